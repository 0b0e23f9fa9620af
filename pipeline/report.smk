rule report:
    """Stability plots and the HTML report from the run's episode log."""
    input:
        "runs/{run}/videos/final.done",
    output:
        "runs/{run}/report/index.html",
    log:
        "runs/{run}/logs/report.log",
    resources:
        **RUNS.resources("report", PROFILE_DEFAULTS),
    params:
        python=PY,
        module=stages.module_flags(MODULES, "report"),
    conda:
        ENV
    shell:
        "{params.python} -m pipeline.stages report --config runs/{wildcards.run}.yaml"
        " {params.module} > {log} 2>&1"
