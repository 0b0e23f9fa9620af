rule bootstrap:
    """Play the intro to the first controllable state; create the run's savestate index.

    The output is a marker written once savestates/{run}/index.json is there (see stages.py).
    """
    input:
        RUNS.bootstrap_inputs,
    output:
        "savestates/{run}/bootstrap.done",
    log:
        "runs/{run}/logs/bootstrap.log",
    resources:
        **RUNS.resources("bootstrap", PROFILE_DEFAULTS),
    params:
        python=PY,
        module=stages.module_flags(MODULES, "bootstrap"),
    conda:
        ENV
    shell:
        "{params.python} -m pipeline.stages bootstrap --config runs/{wildcards.run}.yaml"
        " {params.module} > {log} 2>&1"
