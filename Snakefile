"""Daddy's pipeline: bootstrap savestates -> training segments 1..K -> eval rollouts -> report.

    .venv/bin/snakemake --cores 2 demo              # one machine (segments run as local jobs)
    .venv/bin/snakemake --profile slurm big_run_01  # SLURM: every stage is a SLURM job
    .venv/bin/snakemake -n big_run_01               # dry run: the jobs it would run

Every runs/<run>.yaml is a target rule named after the run. Rules live in pipeline/*.smk; stage
paths and commands in pipeline/stages.py; how segments survive preemption in
pipeline/train_segment.py and docs/PIPELINE.md. Snakemake config keys (--config key=value):
  runs=[a,b]     runs of the default target `all` (default: demo)
  executor=local segment jobs run locally even where SLURM is installed (auto|slurm|local)
  modules={...}  stage -> Python module to run instead (tests run the DAG with fakes)
"""


include: "pipeline/common.smk"


rule all:
    """Default target: the report of each run in config["runs"] (the demo by default)."""
    input:
        DEFAULT_TARGETS,
    default_target: True
    localrule: True


include: "pipeline/bootstrap.smk"
include: "pipeline/train.smk"
include: "pipeline/eval.smk"
include: "pipeline/report.smk"
include: "pipeline/targets.smk"
