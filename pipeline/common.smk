# Shared state of the rule files: the run table, the Python to run, and the Snakemake config.
import sys

from snakemake_interface_executor_plugins.settings import DeploymentMethod

from pipeline import stages

# Where run outputs and savestates go (--config runs_root=/scratch/runs states_root=...); every
# path below comes from daddy.run.paths.RunPaths through pipeline/stages.py.
ROOTS = (config.get("runs_root", "runs"), config.get("states_root", "savestates"))
ROOT_FLAGS = stages.root_flags_text(*ROOTS)
RUNS = stages.RunTable("runs", *ROOTS)
RUNS.exit_on_error = True  # a bad run config or ROM: one line, exit 2, before any job
MODULES = config.get("modules", {})
EXECUTOR = config.get("executor", "")
DEFAULT_TARGETS = [stages.report_html(run, *ROOTS) for run in config.get("runs", ["demo"])]
# The Python that runs Snakemake (the project .venv) unless --use-conda builds envs/daddy.yaml.
USE_CONDA = DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
PY = "python" if USE_CONDA else sys.executable
ENV = "envs/daddy.yaml"
# The profile's default-resources (None without a profile): what a run config's null means.
PROFILE_DEFAULTS = workflow.resource_settings.default_resources
# SLURM job names: the plugin's jobs become daddy-<run>_<uuid> (the stage is in their comment),
# set while the DAG is built, once the runs are known (stages.name_stage_jobs says why).
RUNS.on_use = stages.StageJobNamer(workflow)


wildcard_constraints:
    run=stages.RUN_WILDCARD,
    k=stages.SEGMENT_WILDCARD,

