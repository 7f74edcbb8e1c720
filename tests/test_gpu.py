"""device=cuda end to end; skipped where there is no GPU (CI never has one). The graph
backend's own tests (tests/test_graph_backend.py, tests/test_cuda_graphs.py) run on every
machine through the CPU stand-in and, with a GPU, on real CUDA graphs too."""

from __future__ import annotations

import json

import pytest
import torch

from .conftest import a2c_train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")


@pytest.mark.parametrize("env_name", ["cartpole", "lunar_continuous"])
def test_cuda_training_run_and_its_checkpoint_on_the_cpu(tmp_path, subprocess_env, env_name):
    """A cuda run (backend=auto: graph) completes, and its final.pt, written from GPU
    tensors, is evaluated by a2c-eval on the CPU."""
    from .conftest import A2C_EVAL, run_cli

    run_dir = tmp_path / env_name
    a2c_train([f"env={env_name}", "device=cuda", "total_timesteps=20000", "eval.every_steps=10000",
               "eval.final_episodes=5", f"hydra.run.dir={run_dir}"], subprocess_env)
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["device"] == "cuda" and m["status"] == "completed"
    run_cli(A2C_EVAL, [str(run_dir), "episodes=5", "device=cpu"], subprocess_env)
    report = json.loads((run_dir / "checkpoints" / "eval.json").read_text())
    assert report["episodes"] == 5 and report["device"] == "cpu"


def test_the_factory_compiled_backend_on_cuda_is_graphs_with_compile():
    """backend=compiled on a GPU is the graph backend with torch.compile inside its graphs
    (what make_backend builds); its update equals eager there."""
    import numpy as np

    from a2c_cli.agent.networks import ActorCritic, flatten_parameters
    from a2c_cli.config import AlgoConfig, Config, EnvConfig, NetworkConfig
    from a2c_cli.envs.spaces import EnvSpaces
    from a2c_cli.training.backends import make_backend
    from a2c_cli.training.graph_backend import GraphBackend
    from a2c_cli.training.optim import make_optimizer
    from a2c_cli.training.rollout import RolloutBuffer

    from .conftest import assert_same_update

    cuda = torch.device("cuda")
    cfg = Config(env=EnvConfig(id="CartPole-v1"), algo=AlgoConfig(ent_coef=0.01, gae_lambda=0.95))
    rng = np.random.default_rng(0)
    buf = RolloutBuffer(5, 8, 8, (), True, cuda)
    buf.obs[:] = rng.normal(size=buf.obs.shape)
    buf.actions[:] = rng.integers(0, 4, (5, 8))
    buf.rewards[:] = rng.normal(size=(5, 8))
    buf.upload()
    last = rng.normal(size=(8, 8)).astype(np.float32)
    backends = []
    for name in ("torch", "compiled"):
        torch.manual_seed(0)
        net = ActorCritic(EnvSpaces(8, True, 4, None, None), NetworkConfig()).to(cuda)
        optimizer = make_optimizer([flatten_parameters(net)], cfg.algo)
        backends.append(make_backend(name, cfg, net, optimizer, cuda))
    assert isinstance(backends[1], GraphBackend)
    for _ in range(3):
        assert_same_update(backends[0], backends[1], backends[0].update(buf, last, 0.01),
                           backends[1].update(buf, last, 0.01))
    assert backends[1].captures == 1


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
