"""A sweep through a real Slurm scheduler (``make test-slurm`` starts a one-node cluster on
this machine with ../shared/slurm/local-slurm.sh); skipped where no cluster answers."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from .conftest import a2c_train, job_dirs

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
