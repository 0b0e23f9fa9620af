# One target rule per runs/<run>.yaml, named after the run: `snakemake --cores 2 demo`.
for _run in RUNS.names:

    rule:
        name:
            _run
        input:
            stages.report_html(_run, *ROOTS),
        localrule: True
