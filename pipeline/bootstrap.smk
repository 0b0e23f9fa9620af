rule bootstrap:
    """Play the intro to the first controllable state; create the run's savestate index.

    The output is a marker written once savestates/{run}/index.json is there (see stages.py).
    """
    input:
        RUNS.bootstrap_inputs,
    output:
        stages.bootstrap_done("{run}", *ROOTS),
    log:
        stages.log_file("{run}", "bootstrap", *ROOTS),
    resources:
        **RUNS.resources("bootstrap", PROFILE_DEFAULTS),
    params:
        python=PY,
        module=stages.module_flags(MODULES, "bootstrap"),
        config=RUNS.config,
        roots=ROOT_FLAGS,
    conda:
        ENV
    shell:
        "{params.python} -m pipeline.stages bootstrap --config {params.config}"
        " {params.roots} {params.module} > {log} 2>&1"
