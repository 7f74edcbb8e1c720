"""The CUDA-graph backend against the eager one. Its static-buffer update runs eagerly on the
CPU (``capture=False``, every machine) and as captured graphs on a GPU (skipped without one)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from a2c_cli.agent.networks import ActorCritic, flatten_parameters
from a2c_cli.config import AlgoConfig, Config, EnvConfig, NetworkConfig
from a2c_cli.envs.spaces import EnvSpaces
from a2c_cli.errors import ConfigError, NonFiniteError
from a2c_cli.training.backends import resolve_backend
from a2c_cli.training.graph_backend import GraphBackend
from a2c_cli.training.optim import make_optimizer, portable_state_dict, set_learning_rate
from a2c_cli.training.rollout import RolloutBuffer
from a2c_cli.training.torch_backend import TorchBackend

from .conftest import assert_same_update

T, N, OBS = 5, 8, 8
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
#: (device, graph backend kind, optimizer, discrete): compiled graphs (slow to compile)
#: in one setting, only where there is a GPU.
CASES = [(d, "graph", o, discrete) for d in DEVICES for o in ("adam", "rmsprop")
         for discrete in (True, False)] + (
    [("cuda", "graph+compile", "adam", True)] if torch.cuda.is_available() else [])
needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")


def spaces(discrete: bool) -> EnvSpaces:
    if discrete:
        return EnvSpaces(OBS, True, 4, None, None)
    return EnvSpaces(OBS, False, 2, -np.ones(2, np.float32), np.ones(2, np.float32))


def make(kind: str, discrete: bool, algo: AlgoConfig, device: torch.device):
    torch.manual_seed(0)
    net = ActorCritic(spaces(discrete), NetworkConfig()).to(device)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1 * torch.randn_like(p))
    optimizer = make_optimizer([flatten_parameters(net)], algo)
    if kind in ("graph", "graph+compile"):
        return GraphBackend(net, optimizer, algo, device, capture=device.type == "cuda",
                            compiled=kind == "graph+compile")
    return TorchBackend(net, optimizer, algo, device)


def filled(discrete: bool, device: torch.device, seed: int = 1) -> RolloutBuffer:
    rng = np.random.default_rng(seed)
    buf = RolloutBuffer(T, N, OBS, () if discrete else (2,), discrete, device)
    buf.obs[:] = rng.normal(size=buf.obs.shape)
    buf.actions[:] = rng.integers(0, 4, size=(T, N)) if discrete else rng.normal(size=(T, N, 2))
    buf.rewards[:] = rng.normal(size=(T, N))
    buf.done[:] = rng.random((T, N)) < 0.2
    buf.terminated[:] = buf.done * (rng.random((T, N)) < 0.5)
    buf.final_values[:] = (buf.done - buf.terminated) * rng.normal(size=(T, N))
    buf.upload()
    return buf


@pytest.mark.parametrize(("device", "kind", "optimizer", "discrete"), CASES)
def test_graph_update_equals_eager(device, kind, optimizer, discrete):
    """Three updates at changing learning rates and entropy bonuses on different batches:
    same statistics and weights as the eager backend (1e-5); the optimizer's lazily created
    state does not shift the step count."""
    dev = torch.device(device)
    algo = AlgoConfig(optimizer=optimizer, ent_coef=0.01, gae_lambda=0.95, max_grad_norm=0.5)
    eager, graph = make("torch", discrete, algo, dev), make(kind, discrete, algo, dev)
    for i, (lr, ent_coef) in enumerate(((1e-3, 0.01), (5e-4, 0.004), (2e-4, 0.0))):
        buf = filled(discrete, dev, seed=i)
        last = np.random.default_rng(10 + i).normal(size=(N, OBS)).astype(np.float32)
        for b in (eager, graph):
            set_learning_rate(b.optimizer, lr)
        assert_same_update(eager, graph, eager.update(buf, last, ent_coef),
                           graph.update(buf, last, ent_coef))
    graph.finish()
    assert graph.captures == (1 if dev.type == "cuda" else 0)


@pytest.mark.parametrize("device", DEVICES)
def test_a_non_finite_update_is_not_applied_and_raises(device):
    dev = torch.device(device)
    algo = AlgoConfig()
    graph = make("graph", True, algo, dev)
    last = np.zeros((N, OBS), np.float32)
    graph.update(filled(True, dev), last, algo.ent_coef)
    graph.finish()
    before = graph.params[0].detach().clone()
    bad = filled(True, dev, seed=3)
    bad.rewards[2, 1] = np.nan
    with pytest.raises(NonFiniteError, match="value_loss|policy_loss"):
        graph.update(bad, last, algo.ent_coef)
        graph.finish()  # on a GPU the flag is read without waiting: here at the latest
    torch.testing.assert_close(graph.params[0].detach(), before, rtol=0, atol=0)
    assert torch.isfinite(graph.params[0]).all()


def test_graph_backend_needs_a_gpu_and_checkpoints_stay_portable():
    cfg = Config(env=EnvConfig(id="CartPole-v1"), backend="graph")
    with pytest.raises(ConfigError, match="backend=graph needs a CUDA GPU"):
        resolve_backend("graph", cfg, torch.device("cpu"))
    assert resolve_backend("auto", cfg, torch.device("cuda")) == "graph"
    net = ActorCritic(spaces(True), NetworkConfig())
    optimizer = make_optimizer([flatten_parameters(net)], AlgoConfig())
    optimizer.param_groups[0]["lr"] = torch.tensor(3e-4)
    optimizer.param_groups[0]["capturable"] = True
    group = portable_state_dict(optimizer)["param_groups"][0]
    assert group["lr"] == pytest.approx(3e-4) and isinstance(group["lr"], float)
    assert group["capturable"] is False
    assert isinstance(optimizer.param_groups[0]["lr"], torch.Tensor)  # the live one untouched


@needs_gpu
@pytest.mark.parametrize("discrete", [True, False], ids=["discrete", "continuous"])
def test_replays_give_fresh_samples_and_store_them_in_the_device_rollout(discrete):
    dev = torch.device("cuda")
    graph = make("graph", discrete, AlgoConfig(), dev)
    buf = RolloutBuffer(T, N, OBS, () if discrete else (2,), discrete, dev)
    buf.obs[:] = 0.5
    whole = slice(None)
    samples = [graph.sampler.sample_step(buf, 0, whole).copy() for _ in range(20)]
    assert len({s.tobytes() for s in samples}) > 1  # not frozen at capture
    np.testing.assert_array_equal(buf.device_actions[0].cpu().numpy(), samples[-1])
    graph.sampler.sample_step(buf, 1, slice(0, 4))
    graph.sampler.sample_step(buf, 1, slice(4, 8))
    assert graph.captures == 3
