"""algo.optimizer=rmsprop_tf: TensorFlow's RMSprop (eps inside the square root, the square
average starting at ones) against its closed form, against Stable-Baselines3's
RMSpropTFLike on the same gradient stream, and in every backend that takes it."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from stable_baselines3.common.sb2_compat.rmsprop_tf_like import RMSpropTFLike

from a2c_cli.agent.networks import ActorCritic, flatten_parameters
from a2c_cli.config import AlgoConfig, NetworkConfig
from a2c_cli.envs.spaces import EnvSpaces
from a2c_cli.training.cuda_graphs import StandInGraphs
from a2c_cli.training.graph_backend import GraphBackend
from a2c_cli.training.numpy_backend import NumpyBackend
from a2c_cli.training.optim import make_optimizer, portable_state_dict
from a2c_cli.training.rmsprop_tf import RMSpropTF
from a2c_cli.training.rollout import RolloutBuffer
from a2c_cli.training.torch_backend import TorchBackend

from .conftest import assert_same_update, train_in_process


def test_two_steps_equal_the_closed_form():
    lr, alpha, eps = 0.01, 0.99, 1e-5
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    opt = RMSpropTF([p], lr=lr, alpha=alpha, eps=eps)
    expected, v = p.detach().clone().double(), torch.ones(2, dtype=torch.float64)
    for g in (torch.tensor([0.5, -1e-3]), torch.tensor([-0.2, 4e-4])):
        p.grad = g.clone()
        opt.step()
        v = alpha * v + (1 - alpha) * g.double() ** 2
        expected -= lr * g.double() / torch.sqrt(v + eps)
    torch.testing.assert_close(p.detach().double(), expected, rtol=1e-6, atol=1e-7)
    assert float(opt.state[p]["step"]) == 2
    # where the square average is small, eps inside the root is what sets the step
    opt.state[p]["square_avg"].fill_(1e-8)
    before, g = p.detach().clone().double(), torch.tensor([1e-4, -1e-4])
    p.grad = g.clone()
    opt.step()
    v = alpha * 1e-8 + (1 - alpha) * g.double() ** 2
    torch.testing.assert_close(p.detach().double(), before - lr * g.double() / torch.sqrt(v + eps),
                               rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize(("momentum", "centered"), [(0.0, False), (0.9, False), (0.0, True),
                                                    (0.5, True)])
def test_matches_stable_baselines3_on_the_same_gradient_stream(momentum, centered):
    """1000 steps of clipped-gradient sized updates (RMS 1e-4..1e-2): by then the square
    average has left its ones and eps inside the root matters."""
    torch.manual_seed(0)
    start = torch.randn(64)
    ours, theirs = torch.nn.Parameter(start.clone()), torch.nn.Parameter(start.clone())
    opt = RMSpropTF([ours], lr=7e-4, alpha=0.99, eps=1e-5, momentum=momentum, centered=centered)
    ref = RMSpropTFLike([theirs], lr=7e-4, alpha=0.99, eps=1e-5, momentum=momentum,
                        centered=centered)
    scale = torch.logspace(-4, -2, 64)
    for _ in range(1000):
        g = torch.randn(64) * scale
        ours.grad, theirs.grad = g.clone(), g.clone()
        opt.step()
        ref.step()
    torch.testing.assert_close(ours.detach(), theirs.detach(), rtol=1e-6, atol=1e-8)
    torch.testing.assert_close(opt.state[ours]["square_avg"], ref.state[theirs]["square_avg"])


def test_a_tensor_learning_rate_is_read_on_the_device_and_matches_a_float():
    p1, p2 = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(3))
    o1 = RMSpropTF([p1], lr=0.1)
    o2 = RMSpropTF([p2], lr=torch.tensor(0.1))
    for o, p in ((o1, p1), (o2, p2)):
        p.grad = torch.tensor([0.3, -0.1, 0.0])
        o.step()
    torch.testing.assert_close(p1.detach(), p2.detach())


def spaces() -> EnvSpaces:
    return EnvSpaces(8, True, 4, None, None)


def backend(kind: str, algo: AlgoConfig):
    torch.manual_seed(0)
    net = ActorCritic(spaces(), NetworkConfig())
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1 * torch.randn_like(p))
    flat = flatten_parameters(net)
    optimizer = make_optimizer([flat], algo)
    assert isinstance(optimizer, RMSpropTF)
    if kind == "numpy":
        numpy_backend = NumpyBackend(net, optimizer, algo)
        numpy_backend.params = [flat]  # type: ignore[attr-defined] - what the checks read
        return numpy_backend
    if kind == "graph":
        return GraphBackend(net, optimizer, algo, torch.device("cpu"), StandInGraphs())
    return TorchBackend(net, optimizer, algo, torch.device("cpu"))


def filled(seed: int, buf: RolloutBuffer) -> RolloutBuffer:
    rng = np.random.default_rng(seed)
    buf.obs[:] = rng.normal(size=buf.obs.shape)
    buf.actions[:] = rng.integers(0, 4, (5, 8))
    buf.rewards[:] = rng.normal(size=(5, 8))
    buf.done[:] = rng.random((5, 8)) < 0.2
    buf.terminated[:] = buf.done * (rng.random((5, 8)) < 0.5)
    return buf


@pytest.mark.parametrize("kind", ["numpy", "graph"])
def test_numpy_and_graph_backends_step_as_the_torch_one(kind):
    algo = AlgoConfig(optimizer="rmsprop_tf", ent_coef=0.01, gae_lambda=0.95)
    eager, other = backend("torch", algo), backend(kind, algo)
    buf = RolloutBuffer(5, 8, 8, (), True, torch.device("cpu"))
    for i in range(3):
        filled(i, buf)
        last = np.random.default_rng(9 + i).normal(size=(8, 8)).astype(np.float32)
        assert_same_update(eager, other, eager.update(buf, last, 0.01),
                           other.update(buf, last, 0.01))
    square_avg = other.optimizer.state[other.params[0]]["square_avg"]
    assert isinstance(other.optimizer, RMSpropTF)
    assert float(square_avg.min()) > 0.9  # started at ones, not zeros


def test_state_round_trips_through_a_checkpoint():
    """The optimizer's state as a checkpoint holds it, loaded into a fresh one: the next
    update is the same, bit for bit."""
    algo = AlgoConfig(optimizer="rmsprop_tf", rmsprop_momentum=0.9)
    a, b = backend("torch", algo), backend("torch", algo)
    buf = filled(0, RolloutBuffer(5, 8, 8, (), True, torch.device("cpu")))
    last = np.zeros((8, 8), np.float32)
    a.update(buf, last, 0.0)
    b.network.load_state_dict(a.network.state_dict())
    saved = io.BytesIO()  # through torch.save and a weights-only load, as a checkpoint
    torch.save(portable_state_dict(a.optimizer), saved)
    saved.seek(0)
    b.optimizer.load_state_dict(torch.load(saved, weights_only=True))
    assert set(b.optimizer.state[b.params[0]]) == {"step", "square_avg", "momentum_buffer"}
    filled(1, buf)
    assert_same_update(a, b, a.update(buf, last, 0.0), b.update(buf, last, 0.0), tol=0)


def test_a_run_with_rmsprop_tf_trains_and_resumes(tmp_path):
    run = ["env=cartpole", "algo.optimizer=rmsprop_tf", "eval.every_steps=0",
           "eval.final_episodes=3"]
    m = train_in_process([*run, "total_timesteps=4000"], tmp_path / "run")
    assert m["status"] == "completed"
    m = train_in_process([*run, "total_timesteps=8000", f"resume={tmp_path / 'run'}"],
                         tmp_path / "run")
    assert m["status"] == "completed" and m["total_timesteps"] == 8000
