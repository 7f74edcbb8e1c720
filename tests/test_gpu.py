"""device=cuda end to end; skipped where there is no GPU (CI never has one)."""

from __future__ import annotations

import json

import pytest
import torch

from .conftest import a2c_train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")


@pytest.mark.parametrize("env_name", ["cartpole", "lunar_continuous"])
def test_cuda_training_run(tmp_path, subprocess_env, env_name):
    run_dir = tmp_path / env_name
    a2c_train([f"env={env_name}", "device=cuda", "total_timesteps=20000", "eval.every_steps=10000",
               "eval.final_episodes=5", f"hydra.run.dir={run_dir}"], subprocess_env)
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["device"] == "cuda" and m["status"] == "completed"
    ckpt = torch.load(run_dir / "checkpoints" / "final.pt", weights_only=True, map_location="cpu")
    assert all(t.device.type == "cpu" for t in ckpt["model"].values())
