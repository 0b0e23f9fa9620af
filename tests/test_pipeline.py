"""The Snakemake pipeline and its submitit segments, with stand-ins for the real stages.

The stand-in stages (written below into a `fakes` package) honour the stage CLI contracts of
docs/CONTRACTS.md: the trainer resumes from its newest complete checkpoint, stops at
--until-step with a checkpoint, and on SIGTERM/SIGUSR2 writes one and exits 3. That is enough to
run the whole DAG, preempt a segment and restart the waiter without the real trainer.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from daddy.run.config import load_run_config
from daddy.run.exit_codes import EXIT_BAD_INPUT
from pipeline import stages, train_segment
from pipeline.train_segment import (
    JobRecord,
    SegmentError,
    make_executor,
    newest_checkpoint_step,
    run_segment,
)
from tests.rom_util import fake_rom, practice_file

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile")]

FAKES = {
    "__init__": "",
    "common": """
import json, sys
from pathlib import Path

def record(run, stage):
    log = Path("runs", run, "calls.jsonl")
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as f:
        f.write(json.dumps({"stage": stage, "argv": sys.argv[1:]}) + "\\n")
""",
    "bootstrap": """
import argparse, json
from pathlib import Path
from fakes.common import record
p = argparse.ArgumentParser(); p.add_argument("--rom"); p.add_argument("--run")
a = p.parse_args(); record(a.run, "bootstrap")
Path("savestates", a.run).mkdir(parents=True, exist_ok=True)
Path("savestates", a.run, "index.json").write_text(json.dumps({"version": 1, "states": []}))
""",
    "train": """
import argparse, os, signal, sys, time
from pathlib import Path
from fakes.common import record
p = argparse.ArgumentParser(); p.add_argument("--config"); p.add_argument("--until-step", type=int)
a = p.parse_args(); run = Path(a.config).stem; record(run, "train")
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
signal.signal(signal.SIGUSR2, lambda *_: stop.append(1))
ckpts = Path("runs", run, "checkpoints")
step = max([int(d.name[5:]) for d in ckpts.glob("step_*") if (d / "COMPLETE").exists()] or [0])
def save(s):
    (ckpts / f"step_{s}").mkdir(parents=True, exist_ok=True)
    (ckpts / f"step_{s}" / "meta.json").write_text('{"step": %d, "parts": [], "config": {}}' % s)
    (ckpts / f"step_{s}" / "COMPLETE").write_text("")
print(f"fake trainer: from {step} to {a.until_step}", flush=True)
while step < a.until_step:
    time.sleep(float(os.environ.get("FAKE_STEP_S", "0.001")))
    step = min(step + 100, a.until_step)
    if stop:
        save(step); print(f"fake trainer: preempted at {step}", flush=True); sys.exit(3)
save(step)
sys.exit(int(os.environ.get("FAKE_EXIT", "0")))
""",
    "evaluate": """
import argparse
from pathlib import Path
from fakes.common import record
p = argparse.ArgumentParser()
for f in ("--run", "--checkpoint", "--out", "--episodes"): p.add_argument(f)
a = p.parse_args(); record(a.run, "eval")
Path(a.out).mkdir(parents=True, exist_ok=True); (Path(a.out) / "rollout_1.mp4").write_bytes(b"")
""",
    "report": """
import argparse
from pathlib import Path
from fakes.common import record
p = argparse.ArgumentParser(); p.add_argument("--run")
a = p.parse_args(); record(a.run, "report")
Path("runs", a.run, "report").mkdir(parents=True, exist_ok=True)
Path("runs", a.run, "report", "index.html").write_text("<html></html>")
""",
}
TINY = """run_name: tiny
train: {num_envs: 2, total_steps: 4000, model_size: slim}
pipeline: {segments: 2, steps_per_segment: 2000, signal_delay_s: 30}
"""
FAKE_MODULES = {
    "bootstrap": "fakes.bootstrap",
    "train": "fakes.train",
    "eval": "fakes.evaluate",
    "report": "fakes.report",
}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with a tiny run config and the stand-in stages importable."""
    pkg = tmp_path / "fakes"
    pkg.mkdir()
    for name, text in FAKES.items():
        (pkg / f"{name}.py").write_text(text)
    work = tmp_path / "work"
    (work / "runs").mkdir(parents=True)
    (work / "runs/tiny.yaml").write_text(TINY)
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(work)
    return work


def calls(work: Path, run: str = "tiny") -> list[dict]:
    path = work / "runs" / run / "calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def snakemake(
    *args: str, cwd: Path = REPO, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SNAKEMAKE, "-d", str(cwd), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )


def bare_shell_env() -> dict[str, str]:
    """A login shell's environment without the venv: no activation, /usr/bin and /bin only.
    PYTHONPATH only makes the stand-in stages importable."""
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")}
    return env | {k: os.environ[k] for k in ("PYTHONPATH", "SLURM_CONF") if k in os.environ}


def venv_snakemake(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The README's command, `.venv/bin/snakemake ARGS`, typed into /bin/sh with a bare PATH."""
    command = [str(Path(sys.executable).parent / "snakemake"), "-s", str(REPO / "Snakefile")]
    return subprocess.run(
        shlex.join([*command, "-d", str(cwd), *args]),
        shell=True,
        executable="/bin/sh",
        cwd=cwd,
        env=bare_shell_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def job_counts(output: str) -> dict[str, int]:
    """The `Job stats` table of a dry run as {rule: count}."""
    table = output.split("Job stats:")[1].split("total")[0]
    return {m[0]: int(m[1]) for m in re.findall(r"^(\w+)\s+(\d+)\s*$", table, re.MULTILINE)}


# --- the Snakefile ----------------------------------------------------------------------------
def test_lint_is_clean() -> None:
    proc = snakemake("--lint")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Congratulations, your workflow is in a good condition" in proc.stdout + proc.stderr


@pytest.mark.parametrize(("run", "segments"), [("demo", 2), ("big_run_01", 5)])
def test_dry_run_lists_every_stage_once_and_each_segment(
    run: str, segments: int, workdir: Path, tmp_path: Path
) -> None:
    for name in ("demo", "big_run_01"):
        shutil.copy(REPO / f"runs/{name}.yaml", workdir / "runs")
    (workdir / "runs/broken.yaml").write_text("run_name: broken\ntrain: {num_envs: 0}\n")
    rom = practice_file(tmp_path / "red.gb")  # a usable ROM; both runs take it ($DADDY_ROM)
    proc = snakemake("-n", run, cwd=workdir, env={**os.environ, "DADDY_ROM": str(rom)})
    assert proc.returncode == 0, proc.stderr  # a broken config beside does not matter
    expected = {"bootstrap": 1, "train_segment": segments, "evaluate": 1, "report": 1, run: 1}
    assert job_counts(proc.stdout) == expected


def empty_file(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def dry_run_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The one error line of a refused dry run (Snakemake's own lines carry no 'error')."""
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "error" in ln.lower()]
    assert len(lines) == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "Exception" not in proc.stderr, proc.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda d: empty_file(d / "red.gb"), "is empty (0 bytes)"),
        (lambda d: fake_rom(d / "red.gb"), "has SHA-1"),
    ],
    ids=["empty", "wrong-hash"],
)  # fmt: skip
def test_dry_run_checks_the_rom_before_any_job(
    make, needle: str, workdir: Path, tmp_path: Path
) -> None:
    """`snakemake -n big_run_01` said OK for these; the first SLURM job failed."""
    shutil.copy(REPO / "runs/big_run_01.yaml", workdir / "runs")
    rom = make(tmp_path)
    proc = snakemake("-n", "big_run_01", cwd=workdir, env={**os.environ, "DADDY_ROM": str(rom)})
    assert proc.returncode == EXIT_BAD_INPUT, proc.stdout + proc.stderr
    line = dry_run_error(proc)
    assert line.startswith("snakemake: error: runs/big_run_01.yaml: $DADDY_ROM: ")
    assert needle in line and str(rom) in line
    assert "Job stats" not in proc.stdout and not (workdir / "savestates").exists()


def test_dry_run_refuses_a_run_whose_savestates_are_of_another_rom(workdir: Path) -> None:
    from daddy.game.rom import POKEMON_RED_SHA1
    from daddy.swarm.state_index import StateIndex

    StateIndex.create(workdir / "savestates" / "tiny", "tiny", POKEMON_RED_SHA1)
    env = {k: v for k, v in os.environ.items() if k != "DADDY_ROM"}
    proc = snakemake("-n", "tiny", cwd=workdir, env=env)
    assert proc.returncode == EXIT_BAD_INPUT, proc.stdout + proc.stderr
    line = dry_run_error(proc)
    assert ("savestates/tiny was made with Pokémon Red (UE), but the ROM set now is the "
            "practice cartridge; pass --rom /path/to/pokemon_red.gb") in line  # fmt: skip
    assert "delete" not in line


def test_run_table_keeps_a_bad_rom_as_that_runs_error(
    workdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without Snakemake: the table the Snakefile builds holds the ROM problem for big_run_01
    only; tiny (the practice cartridge by its YAML's default) is unaffected."""
    shutil.copy(REPO / "runs/big_run_01.yaml", workdir / "runs")
    monkeypatch.delenv("DADDY_ROM", raising=False)
    monkeypatch.setenv("DADDY_ROM", str(fake_rom(tmp_path / "red.gb")))
    table = stages.RunTable("runs")
    with pytest.raises(stages.ConfigError, match=r"\$DADDY_ROM: .*red.gb has SHA-1"):
        table.get("big_run_01")
    monkeypatch.setenv("DADDY_ROM", str(practice_file(tmp_path / "p.gb")))
    assert stages.RunTable("runs").get("big_run_01").train.rom == str(tmp_path / "p.gb")


def test_run_config_resources_override_the_profile_and_null_keeps_its_default(
    workdir: Path,
) -> None:
    profile = workdir / "profile"
    profile.mkdir()
    (profile / "config.yaml").write_text(
        "default-resources:\n  slurm_partition: fromprofile\n  slurm_account: acct\n"
    )
    (workdir / "runs/gpu.yaml").write_text(
        "run_name: gpu\npipeline:\n  resources:\n    bootstrap: {partition: big, gpus: 1}\n"
    )
    proc = snakemake("-n", "-p", "tiny", "gpu", "--profile", str(profile), cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    partitions = {}
    for job in proc.stdout.split("rule bootstrap:")[1:]:
        job = job.split("\nrule ")[0]
        run = re.search(r"wildcards: run=(\w+)", job)[1]
        partitions[run] = re.search(r"slurm_partition=(\w+)", job)[1]
        assert "slurm_account=acct" in job
    assert partitions == {"tiny": "fromprofile", "gpu": "big"}
    assert "--default-partition fromprofile --default-account acct" in proc.stdout


def dry_run_resources(output: str, rule: str) -> list[dict[str, str]]:
    """The `resources:` line of each `rule` job of a dry run, as {name: value}."""
    jobs = []
    for block in output.split(f"rule {rule}:")[1:]:
        line = re.search(r"^\s*resources: (.*)$", block.split("\nrule ")[0], re.MULTILINE)[1]
        jobs.append(dict(item.split("=", 1) for item in line.split(", ")))
    return jobs


def test_dry_run_shows_what_each_segment_job_will_get(workdir: Path) -> None:
    """Not the profile's defaults: the train stage's resources, as submitit will request them."""
    profile = workdir / "profile"
    profile.mkdir()
    (profile / "config.yaml").write_text(
        "default-resources: {slurm_partition: fromprofile, slurm_account: acct, runtime: 60,"
        " mem_mb: 2000, cpus_per_task: 1}\n"
    )
    (workdir / "runs/tiny.yaml").write_text(
        "run_name: tiny\ntrain: {num_envs: 2, total_steps: 4000, model_size: slim}\n"
        "pipeline: {segments: 2, steps_per_segment: 2000,"
        " resources: {train: {time_min: 300, mem_mb: 32768, cpus: 6, gpus: 1}}}\n"
    )
    proc = snakemake("-n", "tiny", "--profile", str(profile), cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    shown = dry_run_resources(proc.stdout, "train_segment")
    for k in (1, 2):
        job = make_executor(tiny_run(), k, "slurm", {"partition": "fromprofile", "account": "acct"})
        params = job._executor.parameters
        assert params["mem"] == "32GB"
        expected = {
            "slurm_partition": params["partition"],
            "slurm_account": params["account"],
            "runtime": str(params["time"]),
            "mem_mb": "32768",
            "cpus_per_task": str(params["cpus_per_task"]),
            "gpu": str(params["gpus_per_node"]),
            "submitit_job": params["job_name"],
        }
        assert {key: shown[k - 1][key] for key in expected} == expected
    assert [job["submitit_job"] for job in shown] == ["daddy-tiny-seg1", "daddy-tiny-seg2"]


@pytest.mark.parametrize(
    ("runs", "prefix"),
    [
        (["big_run_01"], "daddy-big_run_01"),
        (["b", "a", "a"], "daddy-a-b"),
        (["r" * 60, "s"], "daddy-" + "r" * 38 + "-etc"),
    ],
    ids=["one", "two", "too_long"],
)
def test_stage_job_prefix_names_the_runs_within_the_plugins_limit(
    runs: list[str], prefix: str
) -> None:
    assert stages.stage_job_prefix(runs) == prefix
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,50}", prefix)  # what the SLURM plugin accepts


def test_stage_jobs_are_named_after_the_runs_unless_the_user_chose_a_prefix() -> None:
    from snakemake_executor_plugin_slurm import ExecutorSettings  # the installed plugin's

    settings = ExecutorSettings()
    ours = stages.name_stage_jobs(settings, {"a"}, None)
    assert settings.jobname_prefix == ours == "daddy-a"
    ours = stages.name_stage_jobs(settings, {"a", "b"}, ours)  # another run joined the DAG
    assert settings.jobname_prefix == ours == "daddy-a-b"
    mine = ExecutorSettings(jobname_prefix="lab42")
    assert stages.name_stage_jobs(mine, {"a"}, None) is None and mine.jobname_prefix == "lab42"
    assert stages.name_stage_jobs(None, {"a"}, None) is None  # dry run, local: nothing to name


def test_bad_run_config_stops_its_run_before_any_job(workdir: Path) -> None:
    (workdir / "runs/broken.yaml").write_text("run_name: broken\ntrain: {num_envs: 0}\n")
    proc = snakemake("--cores", "1", "broken", cwd=workdir)
    assert proc.returncode != 0
    assert "runs/broken.yaml: train.num_envs must be >= 1, got 0" in proc.stdout + proc.stderr
    assert not (workdir / "savestates").exists() and calls(workdir, "broken") == []


@pytest.mark.parametrize(
    ("main", "args", "prefix"),
    [
        (stages.main, ["bootstrap"], "stages"),
        (train_segment.main, ["--segment", "1"], "train_segment"),
    ],
)
def test_bad_run_config_is_one_prefixed_line_and_exit_2(
    workdir: Path, capsys: pytest.CaptureFixture[str], main, args: list[str], prefix: str
) -> None:
    """Two problems (not the multi-line ConfigError text): one `<prefix>: error:` line, exit 2."""
    bad = workdir / "runs/broken.yaml"
    bad.write_text("run_name: broken\ntrain: {num_envs: 0, batch_size: 0}\n")
    assert main([*args, "--config", str(bad)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith(f"{prefix}: error: {bad}: ") and err.count("\n") == 1, err
    assert "train.num_envs must be >= 1" in err and "train.batch_size" in err


def test_segment_beyond_the_run_is_one_line_and_exit_2(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train_segment.main(["--config", "runs/tiny.yaml", "--segment", "99"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith("train_segment: error: runs/tiny.yaml: run tiny has segments 1..")
    assert err.count("\n") == 1, err


def test_whole_dag_runs_end_to_end_with_stand_in_stages(workdir: Path) -> None:
    """Started as the README says, `.venv/bin/snakemake`, from a shell without the venv on
    PATH: every job finds the venv's Python by itself."""
    config = workdir / "test_config.yaml"
    config.write_text(json.dumps({"modules": FAKE_MODULES}))  # executor: auto
    proc = venv_snakemake("tiny", "--cores", "2", "--configfile", str(config), cwd=workdir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    seen = [(c["stage"], c["argv"][-1] if c["stage"] == "train" else None) for c in calls(workdir)]
    assert seen == [
        ("bootstrap", None),
        ("train", "2000"),
        ("train", "4000"),
        ("eval", None),
        ("report", None),
    ]
    for path in (
        "savestates/tiny/index.json",
        "savestates/tiny/bootstrap.done",
        "runs/tiny/videos/final.done",
        "runs/tiny/report/index.html",
    ):
        assert (workdir / path).is_file(), path
    done = json.loads((workdir / stages.segment_done("tiny", 2)).read_text())
    assert done["checkpoint_step"] == 4000
    assert done["cluster"] == "local"  # auto follows Snakemake: --cores runs segments locally
    assert (workdir / "runs/tiny/checkpoints/step_2000/COMPLETE").is_file()  # never deleted


# --- segments ---------------------------------------------------------------------------------
def fake_train(until: int) -> list[str]:
    return stages.train_cmd("runs/tiny.yaml", until, module="fakes.train")


def tiny_run():
    return load_run_config("runs/tiny.yaml")


def test_segment_is_done_only_when_its_checkpoint_is(workdir: Path) -> None:
    """A job that ends short of the segment's step is not done; the rerun is a new job."""
    run = tiny_run()
    short = run_segment(run, 1, config="runs/tiny.yaml", executor="local", command=fake_train(1000))
    assert short == 1 and not Path(stages.segment_done("tiny", 1)).exists()
    first = JobRecord.load(Path(stages.job_record("tiny", 1)))
    assert (
        run_segment(run, 1, config="runs/tiny.yaml", executor="local", command=fake_train(2000))
        == 0
    )
    assert JobRecord.load(Path(stages.job_record("tiny", 1))).job_id != first.job_id
    assert json.loads(Path(stages.segment_done("tiny", 1)).read_text())["checkpoint_step"] == 2000
    assert [c["argv"][-1] for c in calls(workdir)] == ["1000", "2000"]


def test_segment_already_trained_needs_no_job(workdir: Path) -> None:
    (workdir / "runs/tiny/checkpoints/step_2500").mkdir(parents=True)
    (workdir / "runs/tiny/checkpoints/step_2500/COMPLETE").write_text("")
    assert run_segment(tiny_run(), 1, config="runs/tiny.yaml", executor="local") == 0
    done = json.loads(Path(stages.segment_done("tiny", 1)).read_text())
    assert done["checkpoint_step"] == 2500 and done["job_id"] is None
    assert not Path(stages.submitit_folder("tiny")).exists() and calls(workdir) == []


def test_trainer_crash_fails_the_segment_with_a_pointer_to_its_log(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FAKE_EXIT", "5")
    assert (
        run_segment(
            tiny_run(), 1, config="runs/tiny.yaml", executor="local", command=fake_train(2000)
        )
        == 1
    )
    out = capsys.readouterr().out
    assert "segment 1/2 of tiny failed" in out and "_0_log.out" in out
    assert not Path(stages.segment_done("tiny", 1)).exists()


def _start_waiter(work: Path, segment: int) -> subprocess.Popen[str]:
    code = (
        "import sys; from daddy.run.config import load_run_config; from pipeline import train_segment as t; "
        f"sys.exit(t.run_segment(load_run_config('runs/tiny.yaml'), {segment}, config='runs/tiny.yaml', "
        f"executor='local', command={fake_train(2000 * segment)!r}))"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=work,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_usr2_checkpoints_requeues_and_resumes(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_STEP_S", "0.05")
    waiter = _start_waiter(workdir, 1)
    record_path = Path(stages.job_record("tiny", 1))
    _wait_for(lambda: record_path.exists() and len(calls(workdir)) == 1)
    controller = JobRecord.load(record_path).job_id
    task = subprocess.run(["pgrep", "-P", controller], capture_output=True, text=True, check=True)
    os.kill(int(task.stdout.split()[0]), signal.SIGUSR2)  # what submitit's controller sends
    out, _ = waiter.communicate(timeout=60)
    assert waiter.returncode == 0, out
    assert len(calls(workdir)) == 2  # started, stopped with a checkpoint, started again
    steps = sorted(int(p.name[5:]) for p in Path("runs/tiny/checkpoints").glob("step_*"))
    assert len(steps) == 2 and 0 < steps[0] < 2000 and steps[-1] == 2000


def test_restarted_waiter_reattaches_instead_of_submitting_again(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FAKE_STEP_S", "0.05")
    first = _start_waiter(workdir, 1)
    _wait_for(lambda: len(calls(workdir)) == 1)
    os.kill(first.pid, signal.SIGKILL)  # the waiter dies (Snakemake stopped); its job lives on
    first.wait()
    assert (
        run_segment(
            tiny_run(), 1, config="runs/tiny.yaml", executor="local", command=fake_train(2000)
        )
        == 0
    )
    assert "re-attached to job" in capsys.readouterr().out
    assert len(calls(workdir)) == 1
    assert len(list(Path(stages.submitit_folder("tiny")).glob("*_submitted.pkl"))) == 1


def test_running_job_with_another_command_is_not_adopted(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_STEP_S", "0.05")
    first = _start_waiter(workdir, 1)
    _wait_for(lambda: len(calls(workdir)) == 1)
    try:
        with pytest.raises(SegmentError, match=r"still running another command .*kill \d+"):
            run_segment(
                tiny_run(), 1, config="runs/tiny.yaml", executor="local", command=fake_train(1500)
            )
    finally:
        assert first.wait(timeout=60) == 0


def test_newest_checkpoint_step_agrees_with_the_checkpoint_manager(tmp_path: Path) -> None:
    from daddy.run.checkpoint import CheckpointManager

    mgr = CheckpointManager(tmp_path, keep_last=5)
    for step in (10, 20, 30):
        mgr.save(step, {"counters": {"step": step}})
    (tmp_path / "checkpoints" / "step_99").mkdir()  # incomplete: no marker
    assert newest_checkpoint_step(tmp_path) == mgr.list_complete()[-1] == 30


@pytest.mark.parametrize("cluster", ["slurm", "local"])
def test_executor_takes_resources_and_timeout_budget_from_the_config(
    cluster: str, workdir: Path, tmp_path: Path
) -> None:
    rom = practice_file(tmp_path / "red.gb")
    shutil.copy(REPO / "runs/big_run_01.yaml", workdir / "runs")
    run = load_run_config("runs/big_run_01.yaml", environ={"DADDY_ROM": str(rom)})
    ex = make_executor(run, 3, cluster)
    assert ex.cluster == cluster
    assert ex._executor.max_num_timeout == run.pipeline.slurm_max_num_timeout == 20
    params = ex._executor.parameters
    if cluster == "slurm":
        assert params["time"] == 240 and params["gpus_per_node"] == 1
        assert params["signal_delay_s"] == 120 and params["job_name"] == "daddy-big_run_01-seg3"
        assert params["comment"] == "rule_train_segment_wildcards_big_run_01_3"
    else:
        assert params["timeout_min"] == 240 and params["gpus_per_node"] == 1


def test_executor_falls_back_to_the_profiles_partition_and_account(workdir: Path) -> None:
    ex = make_executor(tiny_run(), 1, "slurm", {"partition": "gpu", "account": "lab"})
    assert ex._executor.parameters["partition"] == "gpu"
    assert ex._executor.parameters["account"] == "lab"


@pytest.mark.slurm
@pytest.mark.slow
def test_on_slurm_usr2_requeues_and_a_new_waiter_reattaches(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Real SLURM: USR2 -> checkpoint -> requeue -> resume, while the waiter is replaced."""
    from slurm_util import SKIP_REASON, sacct_states, scancel, slurm_up, wait_for_state

    if not slurm_up():
        pytest.skip(SKIP_REASON)
    monkeypatch.setenv("FAKE_STEP_S", "0.3")
    code = (
        "import sys; from daddy.run.config import load_run_config; from pipeline import train_segment as t; "
        "sys.exit(t.run_segment(load_run_config('runs/tiny.yaml'), 1, config='runs/tiny.yaml', "
        f"executor='slurm', poll_s=1, command={fake_train(2000)!r}))"
    )
    first = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    _wait_for(lambda: len(calls(workdir)) == 1, timeout=60)
    job_id = JobRecord.load(Path(stages.job_record("tiny", 1))).job_id
    scancel(job_id, "--signal=USR2")
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    assert run_segment(tiny_run(), 1, config="runs/tiny.yaml", executor="slurm", poll_s=1,
                       command=fake_train(2000)) == 0  # fmt: skip
    assert f"re-attached to job {job_id} (slurm)" in capsys.readouterr().out
    assert len(calls(workdir)) == 2  # the requeued job started the trainer again
    assert wait_for_state(job_id, {"COMPLETED"}, timeout=60) == "COMPLETED"
    assert len(sacct_states(job_id)) >= 2  # one row per run of the requeued job


@pytest.mark.slurm
@pytest.mark.slow
def test_on_slurm_the_readme_command_runs_every_job_named_after_its_run(workdir: Path) -> None:
    """`.venv/bin/snakemake --profile slurm ...` from a shell without the venv on PATH: the
    stage jobs (the plugin's) are daddy-<run>_<uuid>, the segment jobs daddy-<run>-seg<k>.
    Bootstrap and one segment only: eval and report are named as bootstrap is."""
    from slurm_util import SKIP_REASON, slurm_up

    if not slurm_up():
        pytest.skip(SKIP_REASON)
    config = workdir / "test_config.yaml"
    config.write_text(json.dumps({"modules": FAKE_MODULES}))
    target = stages.segment_done("tiny", 1)
    proc = venv_snakemake(target, "--profile", str(REPO / "slurm"), "--configfile", str(config),
                          cwd=workdir)  # fmt: skip
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert "SLURM run ID: daddy-tiny_" in proc.stdout + proc.stderr
    logs = list((workdir / ".snakemake" / "slurm_logs" / "rule_bootstrap").rglob("*.log"))
    segment = json.loads((workdir / target).read_text())
    assert len(logs) == 1 and segment["cluster"] == "slurm", (logs, segment)
    ids = f"{logs[0].stem},{segment['job_id']}"
    sacct = ["sacct", "-n", "-X", "-P", "-o", "JobName%80", "-j", ids]
    out = subprocess.run(sacct, capture_output=True, text=True, timeout=30, check=True).stdout
    bootstrap, segment_1 = out.split()
    assert re.fullmatch(r"daddy-tiny_[0-9a-f-]{36}", bootstrap), out
    assert segment_1 == "daddy-tiny-seg1"


# --- the trainer's exit codes (daddy.run.exit_codes) -------------------------------------------
@pytest.mark.parametrize(
    ("rc", "step", "outcome"),
    [
        (0, 2000, "done"),  # EXIT_OK at the stop step
        (3, 2000, "done"),  # EXIT_STOPPED, but the final checkpoint was already written
        (3, 1000, "stopped"),  # EXIT_STOPPED short of the stop step: run it again
        (0, 1000, "stopped"),  # an older trainer exits 0 on a signal too
        (1, 2000, "failed"),  # a crash is a crash, whatever the checkpoint says
        (2, None, "failed"),
    ],
)
def test_segment_job_reads_the_trainers_exit_code_and_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rc: int, step: int | None, outcome: str
) -> None:
    from daddy.run.exit_codes import EXIT_STOPPED
    from daddy.run.paths import COMPLETE, RunPaths
    from pipeline.train_segment import TrainSegment

    assert EXIT_STOPPED == 3
    monkeypatch.delenv("SUBMITIT_EXECUTOR", raising=False)
    paths = RunPaths("tiny", tmp_path / "runs")
    if step is not None:
        paths.checkpoint(step).mkdir(parents=True)
        (paths.checkpoint(step) / COMPLETE).write_text("")
    job = TrainSegment([sys.executable, "-c", f"raise SystemExit({rc})"], str(tmp_path),
                       str(paths.dir), 2000)  # fmt: skip
    if outcome == "done":
        assert job() == {"until_step": 2000, "checkpoint_step": step}
        return
    expected = (
        f"stopped at checkpoint step {step} \\(exit {rc}\\) before step 2000"
        if outcome == "stopped"
        else f"trainer exited with code {rc}"
    )
    with pytest.raises(SegmentError, match=expected):
        job()


def test_stage_commands_pass_only_roots_that_differ_from_the_defaults(workdir: Path) -> None:
    from daddy.run.paths import RunPaths

    run = tiny_run()
    plain = RunPaths("tiny")
    assert "--runs-root" not in stages.train_cmd("runs/tiny.yaml", 2000, paths=plain)
    assert stages.eval_cmd(run, paths=plain)[-2:] == ["--out", "runs/tiny/videos/final"]
    moved = RunPaths("tiny", Path("/scratch/runs"), Path("/scratch/states"))
    roots = ["--runs-root", "/scratch/runs", "--states-root", "/scratch/states"]
    assert stages.train_cmd("runs/tiny.yaml", 2000, paths=moved)[-4:] == roots
    assert stages.bootstrap_cmd(run, paths=moved)[-2:] == roots[2:]  # savestates only
    assert stages.report_cmd(run, paths=moved)[-2:] == roots[:2]  # run outputs only
    assert (
        stages.segment_done("tiny", 2, *roots[1::2]) == "/scratch/runs/tiny/segments/segment_2.done"
    )
    assert stages.segment_done("{run}", "{k}") == "runs/{run}/segments/segment_{k}.done"


def test_dry_run_puts_outputs_under_the_configured_roots(workdir: Path, tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    proc = snakemake("-n", "-p", "tiny", "--config", f"runs_root={scratch}/runs",
                     f"states_root={scratch}/states", cwd=workdir)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"{scratch}/runs/tiny/report/index.html" in proc.stdout
    assert f"{scratch}/states/tiny/bootstrap.done" in proc.stdout
    assert f"--runs-root {scratch}/runs --states-root {scratch}/states" in proc.stdout
