rule train_segment:
    """Train segment k of the run (up to k * steps_per_segment) as a requeueable submitit job.

    A local rule on purpose: this process only submits the segment's job (SLURM through
    submitit, or a local process) and waits for it, so it must not hold a SLURM allocation of
    its own. Checkpoints are not outputs: Snakemake would delete them before a re-run. Its
    resources are the segment job's (pipeline.resources.train), shown by `snakemake -n`.
    """
    input:
        RUNS.segment_inputs,
    output:
        stages.segment_done("{run}", "{k}", *ROOTS),
    log:
        stages.log_file("{run}", "segment_{k}", *ROOTS),
    localrule: True
    resources:
        # not this waiter's: the segment job's, so that `snakemake -n` shows what it will get
        **RUNS.segment_resources(PROFILE_DEFAULTS),
    params:
        python=PY,
        module=stages.module_flags(MODULES, "train"),
        config=RUNS.config,
        roots=ROOT_FLAGS,
        executor=f"--executor {EXECUTOR}" if EXECUTOR else "",
        auto=lambda wildcards: stages.auto_executor_flag(workflow.executor_plugin),
        slurm=stages.profile_default_flags(PROFILE_DEFAULTS),
    conda:
        ENV
    shell:
        "{params.python} -m pipeline.train_segment --config {params.config}"
        " --segment {wildcards.k} {params.roots} {params.executor} {params.auto} {params.slurm}"
        " {params.module}"
        " > {log} 2>&1"
