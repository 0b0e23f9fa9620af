rule report:
    """Stability plots and the HTML report from the run's episode log."""
    input:
        stages.eval_done("{run}", *ROOTS),
    output:
        stages.report_html("{run}", *ROOTS),
    log:
        stages.log_file("{run}", "report", *ROOTS),
    resources:
        **RUNS.resources("report", PROFILE_DEFAULTS),
    params:
        python=PY,
        module=stages.module_flags(MODULES, "report"),
        config=RUNS.config,
        roots=ROOT_FLAGS,
    conda:
        ENV
    shell:
        "{params.python} -m pipeline.stages report --config {params.config}"
        " {params.roots} {params.module} > {log} 2>&1"
