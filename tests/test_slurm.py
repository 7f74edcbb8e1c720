"""A sweep through a real Slurm scheduler (``make test-slurm`` starts a one-node cluster on
this machine with ../shared/slurm/local-slurm.sh); skipped where no cluster answers."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest
import torch

from .conftest import A2C_TRAIN, a2c_train, job_dirs, session_steps

pytestmark = pytest.mark.slurm


def cluster_up() -> bool:
    if shutil.which("sbatch") is None or shutil.which("sinfo") is None:
        return False
    proc = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    return proc.returncode == 0 and any(s.strip() in ("idle", "mixed", "allocated")
                                        for s in proc.stdout.splitlines())


@pytest.mark.skipif(not cluster_up(), reason="no Slurm cluster here (make test-slurm starts one)")
def test_sweep_runs_as_a_slurm_array(tmp_path, subprocess_env):
    sweep = tmp_path / "sweep"
    a2c_train(["-m", "hydra/launcher=slurm", "hydra.launcher.partition=debug",
               "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=2",
               "hydra.launcher.timeout_min=10", "env=cartpole", "total_timesteps=2000",
               "eval.every_steps=0", "eval.final_episodes=5", "plot=false", "seed=0,1",
               f"hydra.sweep.dir={sweep}"], subprocess_env)
    jobs = job_dirs(sweep)
    assert len(jobs) == 2
    for seed, job in enumerate(jobs):
        metrics = json.loads((job / "metrics.json").read_text())
        assert metrics["status"] == "completed" and metrics["seed"] == seed
    logs = list((sweep / ".submitit").rglob("*_log.out"))
    assert logs, "no Slurm job logs: the jobs did not run through sbatch"


@pytest.mark.skipif(not cluster_up(), reason="no Slurm cluster here (make test-slurm starts one)")
def test_a_signalled_job_is_requeued_and_resumes_by_itself(tmp_path, subprocess_env):
    """What Slurm does before a time limit (USR2, sent here with scancel --signal): the job
    saves last.pt, submitit requeues it, and the requeued job resumes from the checkpoint
    and completes; the sweep's command finishes without being run again, with one curve."""
    sweep = tmp_path / "sweep"
    cmd = [A2C_TRAIN, "-m", "hydra/launcher=slurm", "hydra.launcher.partition=debug",
           "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=2",
           "hydra.launcher.timeout_min=10", "env=cartpole", "total_timesteps=150000",
           "checkpoint.every_steps=5000", "eval.every_steps=0", "eval.final_episodes=5",
           "plot=false", "seed=0", f"hydra.sweep.dir={sweep}"]
    launcher = subprocess.Popen(cmd, env=subprocess_env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        while not list(sweep.glob("*/checkpoints/last.pt")):
            assert time.monotonic() < deadline and launcher.poll() is None
            time.sleep(0.2)
        job_ids = subprocess.run(["squeue", "-h", "-o", "%A"], capture_output=True, text=True,
                                 check=True).stdout.split()
        assert len(job_ids) == 1, job_ids
        subprocess.run(["scancel", "--signal=USR2", job_ids[0]], check=True)  # to its steps
        _, err = launcher.communicate(timeout=300)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert launcher.returncode == 0, err
    (job,) = job_dirs(sweep)
    metrics = json.loads((job / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["total_timesteps"] == 150000
    log = (job / "train.log").read_text()
    assert "an interrupted run: resumed from step" in log, log[-2000:]
    slurm_logs = "\n".join(p.read_text() for p in (sweep / ".submitit").rglob("*_log.*"))
    assert "Requeued job" in slurm_logs
    stopped = int(log.split("resumed from step ")[1].split()[0])
    steps = session_steps(job)
    assert len(steps) == 2 and steps[1][0] > stopped and not set(steps[0]) & set(steps[1])
    assert torch.load(job / "checkpoints" / "final.pt", weights_only=True)["global_step"] == \
        150000
