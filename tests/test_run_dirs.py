"""One writer per run directory: unique directories for runs started together, a lock that
refuses a second writer (resume= of a live run) and is taken over after a crash."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from a2c_cli.errors import RunDirectoryInUse
from a2c_cli.outputs.run_dir import LOCK_FILE, RunLock, claim_new_run_dir

from .conftest import A2C_REPORT, A2C_TRAIN, a2c_train, job_dirs, scalars

TINY = ["env=cartpole", "total_timesteps=400", "eval.every_steps=0", "eval.final_episodes=1",
        "plot=false", "progress=none"]


@pytest.mark.slow  # ten a2c-train processes at once (make test-slow)
def test_ten_runs_started_together_get_ten_directories(tmp_path, subprocess_env):
    procs = [subprocess.Popen([A2C_TRAIN, *TINY, f"seed={seed}"], cwd=tmp_path,
                              env=subprocess_env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for seed in range(10)]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    runs = sorted(p.parent for p in (tmp_path / "outputs").glob("*/*/.hydra"))
    assert len(runs) == 10, runs
    seeds = set()
    for run in runs:
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["status"] == "completed"
        seeds.add(metrics["seed"])
        assert len(list(run.glob("events.out.tfevents.*"))) == 1
        assert (run / "checkpoints" / "final.pt").is_file()
    assert seeds == set(range(10))


def test_claiming_a_taken_name_adds_a_suffix(tmp_path):
    base = tmp_path / "outputs" / "2026-01-01" / "12-00-00"
    claimed = [claim_new_run_dir(base) for _ in range(3)]
    assert [p.name for p in claimed] == ["12-00-00", "12-00-00-1", "12-00-00-2"]


def test_lock_is_exclusive_between_processes_and_dropped_with_the_process(tmp_path):
    run_dir = tmp_path / "run"
    code = ("import sys, time; from pathlib import Path; "
            "from a2c_cli.outputs.run_dir import RunLock; "
            f"RunLock.acquire(Path({str(run_dir)!r})); print('locked', flush=True); "
            "time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunDirectoryInUse, match=f"process {holder.pid} on "):
            RunLock.acquire(run_dir)
    finally:
        holder.kill()  # as SIGKILL or a power cut would: no cleanup runs
        holder.wait()
    lock = RunLock.acquire(run_dir)  # the dead process's lock is taken over
    try:
        assert json.loads((run_dir / LOCK_FILE).read_text())["pid"] == os.getpid()
    finally:
        lock.release()


def test_explicit_run_dir_of_another_run_is_refused(tmp_path, subprocess_env):
    run_dir = tmp_path / "run"
    a2c_train([*TINY, f"hydra.run.dir={run_dir}"], subprocess_env)
    before = sorted(p.name for p in run_dir.iterdir())
    metrics = (run_dir / "metrics.json").read_text()
    proc = a2c_train([*TINY, "seed=5", f"hydra.run.dir={run_dir}"], subprocess_env, check=False)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "another run's directory" in lines[0] and "resume=" in lines[0]
    assert sorted(p.name for p in run_dir.iterdir()) == before
    assert (run_dir / "metrics.json").read_text() == metrics


def test_resume_of_a_live_run_is_refused_and_the_run_finishes_unharmed(tmp_path,
                                                                       subprocess_env):
    run_dir = tmp_path / "run"
    live = subprocess.Popen([A2C_TRAIN, "env=cartpole", "total_timesteps=60000",
                             "checkpoint.every_steps=4000", "eval.every_steps=20000",
                             "eval.episodes=3", "progress=none", f"hydra.run.dir={run_dir}"],
                            env=subprocess_env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (run_dir / "checkpoints" / "last.pt").is_file():
        assert time.monotonic() < deadline and live.poll() is None
        time.sleep(0.05)
    refused = a2c_train([f"resume={run_dir}"], subprocess_env, check=False)
    still_training = live.poll() is None
    _, err = live.communicate(timeout=300)
    assert still_training, "the live run ended before the resume attempt: make it longer"
    assert refused.returncode == 2, refused.stderr
    lines = [ln for ln in refused.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and f"in use by process {live.pid}" in lines[0], refused.stderr
    assert "Traceback" not in refused.stderr + refused.stdout
    assert live.returncode == 0, err
    assert not (run_dir / ".hydra" / "resumed").exists()  # the refused resume wrote nothing
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["total_timesteps"] == 60000
    assert len(list(run_dir.glob("events.out.tfevents.*"))) == 1
    s = scalars(run_dir)
    steps = [step for step, _ in s["charts/episodic_return"]]
    assert steps == sorted(set(steps)) and steps[-1] <= 60000
    assert [step for step, _ in s["eval/mean_return"]] == [20000, 40000, 60000]


def test_multirun_job_directories_name_their_overrides(tmp_path, subprocess_env):
    sweep = tmp_path / "sweep"
    a2c_train(["-m", *TINY, "seed=0,1", f"hydra.sweep.dir={sweep}"], subprocess_env)
    names = [p.name for p in job_dirs(sweep)]
    assert len(names) == 2
    assert names[0].startswith("0_") and "seed=0" in names[0] and "env=cartpole" in names[0]
    assert names[1].startswith("1_") and "seed=1" in names[1]


def test_two_multiruns_started_together_get_two_sweep_directories(tmp_path, subprocess_env):
    procs = [subprocess.Popen([A2C_TRAIN, "-m", *TINY, f"seed={s}"], cwd=tmp_path,
                              env=subprocess_env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for s in (0, 1)]
    assert all(p.wait(timeout=300) == 0 for p in procs)
    sweeps = list((tmp_path / "outputs" / "multirun").glob("*/*"))
    assert len(sweeps) == 2
    assert sorted(len(job_dirs(Path(s))) for s in sweeps) == [1, 1]


def test_lock_file_of_a_killed_run_is_taken_over_by_resume(tmp_path, subprocess_env):
    run_dir = tmp_path / "run"
    proc = subprocess.Popen([A2C_TRAIN, "env=cartpole", "total_timesteps=40000",
                             "checkpoint.every_steps=4000", "eval.every_steps=0",
                             "eval.final_episodes=5", "progress=none",
                             f"hydra.run.dir={run_dir}"], env=subprocess_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (run_dir / "checkpoints" / "last.pt").is_file():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert json.loads((run_dir / LOCK_FILE).read_text())["pid"] == proc.pid  # left behind
    a2c_train([f"resume={run_dir}"], subprocess_env)
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "completed"


@pytest.mark.slow  # two sweeps of 40k-step jobs in real processes (make test-slow)
def test_a_killed_sweep_worker_fails_the_sweep_and_a_rerun_runs_only_the_missing_jobs(
        tmp_path, subprocess_env):
    sweep = tmp_path / "sweep"
    cmd = [A2C_TRAIN, "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "env=cartpole",
           "total_timesteps=40000", "eval.every_steps=0", "eval.final_episodes=5",
           "plot=false", "seed=0,1,2", f"hydra.sweep.dir={sweep}"]
    with (tmp_path / "err.txt").open("w") as err:
        proc = subprocess.Popen(cmd, env=subprocess_env, stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + 120
        while not list(sweep.glob("*/events.out.tfevents.*")):  # a job is training
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        workers = [int(p.parent.name) for p in Path("/proc").glob("[0-9]*/cmdline")
                   if b"LokyProcess" in p.read_bytes() and
                   f"PPid:\t{proc.pid}\n" in (p.parent / "status").read_text()]
        os.kill(workers[0], signal.SIGKILL)
        assert proc.wait(timeout=120) == 4
    lines = [ln for ln in (tmp_path / "err.txt").read_text().splitlines() if ln.strip()]
    assert "a2c-train: error: a sweep job's process died" in lines[-1], lines[-5:]
    assert "Traceback" not in "\n".join(lines)
    unfinished = [d for d in job_dirs(sweep) if not (d / "metrics.json").is_file()]
    assert unfinished  # the killed job left no metrics.json
    report = subprocess.run([A2C_REPORT, str(sweep), "--no-plot"], env=subprocess_env,
                            capture_output=True, text=True, check=True).stdout
    assert f"{unfinished[0].name}: unfinished" in report

    finished = {d.name: sorted(d.glob("events.out.tfevents.*")) for d in job_dirs(sweep)
                if (d / "metrics.json").is_file()}
    subprocess.run(cmd, env=subprocess_env, check=True, capture_output=True)  # the same again
    jobs = job_dirs(sweep)
    assert len(jobs) == 3
    for job in jobs:
        assert json.loads((job / "metrics.json").read_text())["status"] == "completed"
        if job.name in finished:  # finished jobs were not run again
            assert sorted(job.glob("events.out.tfevents.*")) == finished[job.name]
