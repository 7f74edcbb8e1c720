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


def test_compiled_update_on_cuda_equals_eager():
    """The compiled backend on the GPU: same statistics and step as eager on one batch."""
    import numpy as np

    from a2c_cli.agent.networks import ActorCritic, flatten_parameters
    from a2c_cli.config import AlgoConfig, NetworkConfig
    from a2c_cli.envs.spaces import EnvSpaces
    from a2c_cli.training.optim import make_optimizer
    from a2c_cli.training.rollout import RolloutBuffer
    from a2c_cli.training.torch_backend import TorchBackend

    cuda, algo = torch.device("cuda"), AlgoConfig(ent_coef=0.01, gae_lambda=0.95)
    rng = np.random.default_rng(0)
    buf = RolloutBuffer(5, 8, 8, (), True, cuda)
    buf.obs[:] = rng.normal(size=buf.obs.shape)
    buf.actions[:] = rng.integers(0, 4, (5, 8))
    buf.rewards[:] = rng.normal(size=(5, 8))
    buf.upload()
    last = rng.normal(size=(8, 8)).astype(np.float32)
    backends = []
    for compiled in (False, True):
        torch.manual_seed(0)
        net = ActorCritic(EnvSpaces(8, True, 4, None, None), NetworkConfig()).to(cuda)
        optimizer = make_optimizer([flatten_parameters(net)], algo)
        backends.append(TorchBackend(net, optimizer, algo, cuda, compiled=compiled, num_envs=8))
    eager, compiled = (b.update(buf, last, algo.ent_coef) for b in backends)
    for name, value in eager._asdict().items():
        assert float(getattr(compiled, name)) == pytest.approx(float(value), rel=1e-5, abs=1e-5)
    torch.testing.assert_close(backends[1].params[0], backends[0].params[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("overrides", [[], ["env.backend=envpool", "vec_env=async"]],
                         ids=["gymnasium", "envpool-async"])
def test_graph_backend_trains_without_capturing_again(tmp_path, overrides):
    """A cuda run (backend=auto -> graph): one act graph per rollout slot (two per step with
    EnvPool's pipelined halves) and one update graph, captured once for the whole run."""
    from omegaconf import OmegaConf

    from a2c_cli.cli.console import RunConsole
    from a2c_cli.training.build import build_trainer

    from .conftest import compose_config, to_config

    if "env.backend=envpool" in overrides:
        pytest.importorskip("envpool")
    cfg = compose_config(["env=lunar_discrete", "device=cuda", "total_timesteps=40000",
                          "eval.every_steps=20000", "eval.final_episodes=3", "num_envs=8",
                          *overrides])
    config = to_config(cfg)
    trainer = build_trainer(config, tmp_path, OmegaConf.to_container(cfg, resolve=True),
                            RunConsole("none", config.total_timesteps, 60.0))
    try:
        metrics = trainer.train()
    finally:
        trainer.close()
    backend = trainer.learner.backend
    halves = 2 if overrides else 1
    assert metrics["status"] == "completed" and metrics["device"] == "cuda"
    assert backend.captures == config.algo.n_steps * halves + 1


def test_weight_average_on_the_graph_backend(tmp_path, subprocess_env):
    """algo.ema_decay with CUDA graphs: the average is swapped into the captured graphs'
    memory for evaluation and saved next to the online weights."""
    from a2c_cli.training.weight_average import ONLINE_KEY, UPDATES_KEY

    run_dir = tmp_path / "ema"
    a2c_train(["env=cartpole", "device=cuda", "backend=graph", "algo.ema_decay=0.99",
               "total_timesteps=20000", "eval.every_steps=10000", "eval.final_episodes=5",
               f"hydra.run.dir={run_dir}"], subprocess_env)
    ckpt = torch.load(run_dir / "checkpoints" / "final.pt", weights_only=True, map_location="cpu")
    batch = ckpt["config"]["num_envs"] * ckpt["config"]["algo"]["n_steps"]
    assert ckpt[UPDATES_KEY] == 20000 // batch
    assert any(not torch.equal(ckpt["model"][k], ckpt[ONLINE_KEY][k]) for k in ckpt["model"])
