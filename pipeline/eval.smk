rule evaluate:
    """Record evaluation rollouts (MP4 + GIF) of the final checkpoint."""
    input:
        RUNS.last_segment,
    output:
        "runs/{run}/videos/final.done",
    log:
        "runs/{run}/logs/evaluate.log",
    resources:
        **RUNS.resources("eval", PROFILE_DEFAULTS),
    params:
        python=PY,
        module=stages.module_flags(MODULES, "eval"),
    conda:
        ENV
    shell:
        "{params.python} -m pipeline.stages eval --config runs/{wildcards.run}.yaml"
        " {params.module} > {log} 2>&1"
