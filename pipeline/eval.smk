rule evaluate:
    """Record evaluation rollouts (MP4 + GIF) of the final checkpoint."""
    input:
        RUNS.last_segment,
    output:
        stages.eval_done("{run}", *ROOTS),
    log:
        stages.log_file("{run}", "evaluate", *ROOTS),
    resources:
        **RUNS.resources("eval", PROFILE_DEFAULTS),
    params:
        python=PY,
        module=stages.module_flags(MODULES, "eval"),
        config=RUNS.config,
        roots=ROOT_FLAGS,
    conda:
        ENV
    shell:
        "{params.python} -m pipeline.stages eval --config {params.config}"
        " {params.roots} {params.module} > {log} 2>&1"
