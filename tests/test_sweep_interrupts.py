"""Sweeps under interruption, with real processes: Ctrl-C to the sweep's process group,
SIGTERM or SIGINT to the launcher alone; running the same command again resumes the
interrupted jobs from their last.pt and skips the completed ones."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from a2c_cli.cli.sweep_stop import descendants

from .conftest import A2C_TRAIN, job_dirs, session_steps

#: The interrupted jobs' length: long enough that, on a loaded 2-core machine, none finishes
#: before the signal (with 20k steps one job's process started seconds after the other's
#: and completed before the other wrote its first last.pt).
LONG_STEPS = 40000

#: CartPole jobs of a few seconds, a checkpoint every 2000 steps.
JOB = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "env=cartpole",
       "checkpoint.every_steps=2000", "eval.every_steps=0", "eval.final_episodes=3",
       "plot=false", "log_every_steps=500"]


def sweep_cmd(sweep: Path, *params: str) -> list[str]:
    return [A2C_TRAIN, "-m", *JOB, *params, f"hydra.sweep.dir={sweep}"]


def checkpointed(sweep: Path, count: int, timeout: float = 120.0) -> list[Path]:
    """Wait until ``count`` jobs have written last.pt; those jobs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(p.parent.parent for p in sweep.glob("*/checkpoints/last.pt"))
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} jobs wrote last.pt in {timeout} s")


def log_of(job: Path) -> str:
    return (job / "train.log").read_text()


def metrics(job: Path) -> dict:
    return json.loads((job / "metrics.json").read_text())


def check_resumed(job: Path, stopped_at: int) -> None:
    """Two sessions, the second starting past the checkpoint and the first ending there: no
    step logged twice and none trained twice, so one run's worth of training in all (the
    steps are counted rather than the seconds, which the load of a 2-core machine sets).
    Episodes are logged as they end, so each session's nearest one is within an episode's
    span of the checkpoint: CartPole's 500-step limit times the envs stepping together."""
    first, second = session_steps(job)
    assert first and second and first[-1] <= stopped_at < second[0]
    assert not set(first) & set(second)
    num_envs = torch.load(job / "checkpoints" / "final.pt", weights_only=True)["config"][
        "num_envs"]
    span = 500 * num_envs
    assert second[0] - stopped_at <= span and stopped_at - first[-1] <= span
    m = metrics(job)
    assert m["status"] == "completed" and m["total_timesteps"] == LONG_STEPS


def test_ctrl_c_to_the_sweep_then_the_same_command_resumes_it(tmp_path, subprocess_env):
    """Two short jobs complete, two long ones are interrupted by Ctrl-C (SIGINT to the
    whole process group, as a terminal sends it); the re-run resumes the two from their
    checkpoints and does not run the completed ones again."""
    sweep = tmp_path / "sweep"
    cmd = sweep_cmd(sweep, f"total_timesteps=4000,{LONG_STEPS}", "seed=0,1")
    proc = subprocess.Popen(cmd, env=subprocess_env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while len(list(sweep.glob("*/metrics.json"))) < 2 or \
                len(list(sweep.glob("*/checkpoints/last.pt"))) < 4:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert "sweep stopped by SIGINT: 2 completed, 2 interrupted, 0 not started" in err
    assert "Traceback" not in err and "Error executing job" not in err
    jobs = job_dirs(sweep)
    short, long = jobs[:2], jobs[2:]
    events = {j.name: sorted(j.glob("events.out.tfevents.*")) for j in short}
    stopped = {}
    for job in long:
        assert metrics(job)["status"] == "interrupted"
        stopped[job.name] = torch.load(job / "checkpoints" / "last.pt",
                                       weights_only=True)["global_step"]
        assert stopped[job.name] < LONG_STEPS
    first_time = {j.name: metrics(j)["train_time_s"] for j in long}

    again = subprocess.run(cmd, env=subprocess_env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    for job in short:  # completed: not run again
        assert sorted(job.glob("events.out.tfevents.*")) == events[job.name]
        assert f"job {job.name}: completed earlier: not run again" in log_of(job)
    for job in long:
        assert f"job {job.name}: an interrupted run: resumed from step {stopped[job.name]}" \
            in log_of(job)
        check_resumed(job, stopped[job.name])
        assert metrics(job)["train_time_s"] > first_time[job.name]  # the clock continued


@pytest.mark.slow  # two sweeps of real processes each (make test-slow)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_to_the_launcher_alone_stops_the_whole_sweep(tmp_path, subprocess_env, sig):
    """What a supervisor or `timeout` sends: the running jobs save last.pt and stop, the
    third job never starts, the launcher exits 128 + signal with one line, no process of
    the sweep is left, and the same command finishes the sweep by resuming."""
    sweep = tmp_path / "sweep"
    cmd = sweep_cmd(sweep, f"total_timesteps={LONG_STEPS}", "seed=0,1,2")
    proc = subprocess.Popen(cmd, env=subprocess_env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        running = checkpointed(sweep, 2)
        family = descendants(proc.pid)
        assert len(family) >= 2  # the pool's workers
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 128 + sig, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines == [f"a2c-train: sweep stopped by {signal.Signals(sig).name}: 0 completed, "
                     f"2 interrupted, 1 not started (of 3 jobs in {sweep}); run the same "
                     "command again to continue it (interrupted jobs resume from their "
                     "last.pt)."], err
    deadline = time.monotonic() + 10
    while [p for p in family if Path(f"/proc/{p}").exists()]:
        assert time.monotonic() < deadline, "processes of the sweep outlived the launcher"
        time.sleep(0.1)
    stopped = {}
    for job in running:
        assert metrics(job)["status"] == "interrupted"
        stopped[job.name] = torch.load(job / "checkpoints" / "last.pt",
                                       weights_only=True)["global_step"]
    (third,) = [j for j in job_dirs(sweep) if j not in running]
    assert not (third / "metrics.json").exists() and not (third / "checkpoints").exists()

    again = subprocess.run(cmd, env=subprocess_env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    for job in running:
        check_resumed(job, stopped[job.name])
    assert metrics(third)["status"] == "completed"


@pytest.mark.slow  # a sweep of real processes, resumed (make test-slow)
def test_sigterm_to_a_submitit_local_launcher_stops_its_jobs(tmp_path, subprocess_env):
    """The same through submitit's local executor (one subprocess per job, all at once)."""
    sweep = tmp_path / "sweep"
    cmd = [A2C_TRAIN, "-m", "hydra/launcher=submitit_local", *JOB[2:],
           f"total_timesteps={LONG_STEPS}", "seed=0,1", f"hydra.sweep.dir={sweep}"]
    proc = subprocess.Popen(cmd, env=subprocess_env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        running = checkpointed(sweep, 2)
        family = descendants(proc.pid)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 143, err
    assert [ln for ln in err.splitlines() if ln.strip()] == [
        f"a2c-train: sweep stopped by SIGTERM: 0 completed, 2 interrupted, 0 not started (of 2 "
        f"jobs in {sweep}); run the same command again to continue it (interrupted jobs "
        "resume from their last.pt)."]
    deadline = time.monotonic() + 10
    while [p for p in family if Path(f"/proc/{p}").exists()]:
        assert time.monotonic() < deadline, "processes of the sweep outlived the launcher"
        time.sleep(0.1)
    stopped = {j.name: torch.load(j / "checkpoints" / "last.pt", weights_only=True)["global_step"]
               for j in running}
    again = subprocess.run(cmd, env=subprocess_env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    for job in running:
        check_resumed(job, stopped[job.name])
