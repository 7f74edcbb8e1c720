"""The A2C update: loss terms, gradient clipping, advantage normalisation fallback."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from a2c_cli.agent.networks import ActorCritic, flatten_parameters
from a2c_cli.agent.normalization import RewardScaler, RunningMeanStd
from a2c_cli.config import AlgoConfig, NetworkConfig
from a2c_cli.envs.spaces import EnvSpaces
from a2c_cli.training.learner import A2C, StatsMean
from a2c_cli.training.loss import UpdateStats, explained_variance, normalize_advantages
from a2c_cli.training.optim import entropy_coef, learning_rate, make_optimizer
from a2c_cli.training.rollout import RolloutBuffer
from a2c_cli.training.torch_backend import TorchBackend


def make_rollout(n_steps=4, num_envs=3, obs_dim=5, seed=0) -> tuple[RolloutBuffer, np.ndarray]:
    rng = np.random.default_rng(seed)
    buf = RolloutBuffer(n_steps, num_envs, obs_dim, (), True, torch.device("cpu"))
    buf.obs[:] = rng.normal(size=buf.obs.shape)
    buf.actions[:] = rng.integers(0, 2, size=(n_steps, num_envs))
    buf.rewards[:] = rng.normal(size=(n_steps, num_envs))
    return buf, rng.normal(size=(num_envs, obs_dim)).astype(np.float32)


def make_learner(**algo_kwargs) -> A2C:
    """The eager torch backend (the NumPy one is compared with it in test_backends)."""
    torch.manual_seed(0)
    net = ActorCritic(EnvSpaces(5, True, 2, None, None), NetworkConfig())
    algo = AlgoConfig(**algo_kwargs)
    optimizer = make_optimizer([flatten_parameters(net)], algo)
    return A2C(TorchBackend(net, optimizer, algo, torch.device("cpu")), optimizer, algo)


def update(learner: A2C, rollout, last, progress: float = 0.0) -> UpdateStats:
    return UpdateStats(*(float(v) for v in learner.update(rollout, last, progress)))


def test_update_returns_finite_stats_and_changes_parameters():
    learner = make_learner()
    network = learner.backend.network
    before = [p.detach().clone() for p in network.parameters()]
    rollout, last = make_rollout()
    stats = update(learner, rollout, last)
    assert all(math.isfinite(v) for v in stats)
    assert stats.entropy == pytest.approx(math.log(2), abs=0.01)  # near-uniform init policy
    assert stats.adv_norm_fallback == 0.0
    changed = [not torch.equal(b, p) for b, p in zip(before, network.parameters(), strict=True)]
    assert any(changed)


def test_grad_norm_is_recorded_before_clipping():
    learner = make_learner(max_grad_norm=1e-6, lr=1e-3)
    rollout, last = make_rollout()
    assert update(learner, rollout, last).grad_norm > 1e-3  # the clipped norm would be 1e-6


def test_value_loss_drives_values_towards_returns():
    learner = make_learner(lr=3e-3, ent_coef=0.0)
    rollout, last = make_rollout()
    losses = [update(learner, rollout, last).value_loss for _ in range(200)]
    assert losses[-1] < 0.3 * losses[0]


def test_advantage_normalisation_falls_back_to_centring_for_one_sample():
    adv, fallback = normalize_advantages(torch.tensor([3.0]))
    assert adv.tolist() == [0.0] and fallback.item() == 1.0
    adv, fallback = normalize_advantages(torch.tensor([1.0, 3.0]))
    assert adv.std().item() == pytest.approx(1.0, abs=1e-4) and fallback.item() == 0.0


def test_explained_variance():
    target = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert explained_variance(target, target).item() == pytest.approx(1.0)
    assert explained_variance(torch.zeros(4), target).item() == pytest.approx(0.0, abs=1e-6)
    assert explained_variance(torch.full((4,), target.mean()), target).item() == pytest.approx(0)
    assert explained_variance(target, torch.ones(4)).item() == 0.0


def test_linear_schedule_decays_to_zero():
    algo = AlgoConfig(lr=1e-3, lr_schedule="linear")
    assert learning_rate(algo, 0.0) == 1e-3
    assert learning_rate(algo, 0.5) == pytest.approx(5e-4)
    assert learning_rate(algo, 1.0) == 0.0
    assert learning_rate(AlgoConfig(lr=1e-3), 0.9) == 1e-3
    algo = AlgoConfig(ent_coef=0.01, ent_schedule="linear")
    assert entropy_coef(algo, 0.0) == 0.01
    assert entropy_coef(algo, 0.75) == pytest.approx(0.0025)
    assert entropy_coef(algo, 1.0) == 0.0
    assert entropy_coef(AlgoConfig(ent_coef=0.01), 0.9) == 0.01


def test_rmsprop_optimizer_choice():
    learner = make_learner(optimizer="rmsprop")
    assert isinstance(learner.optimizer, torch.optim.RMSprop)


def test_learner_follows_the_schedule():
    learner = make_learner(lr=1e-3, lr_schedule="linear")
    rollout, last = make_rollout()
    learner.update(rollout, last, progress=0.25)
    assert learner.lr == pytest.approx(7.5e-4)
    assert learner.optimizer.param_groups[0]["lr"] == pytest.approx(7.5e-4)


@pytest.mark.parametrize("backend", ["torch", "numpy"])
def test_update_uses_the_scheduled_entropy_bonus(backend):
    """At 60% of a run a linear bonus of 0.05 takes the step a constant bonus of 0.02 takes,
    and not the step of the unscheduled 0.05."""
    def step(**algo_kwargs) -> torch.Tensor:
        learner = make_learner(lr=1e-2, **algo_kwargs)
        if backend == "numpy":
            from a2c_cli.training.numpy_backend import NumpyBackend
            torch_backend = learner.backend
            learner.backend = NumpyBackend(torch_backend.network, learner.optimizer, learner.algo)
        rollout, last = make_rollout()
        learner.update(rollout, last, progress=0.6)
        return learner.optimizer.param_groups[0]["params"][0].detach().clone()

    scheduled = step(ent_coef=0.05, ent_schedule="linear")
    torch.testing.assert_close(scheduled, step(ent_coef=0.02), rtol=1e-5, atol=1e-7)
    assert not torch.allclose(scheduled, step(ent_coef=0.05), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("kind", ["tensor", "float"])
def test_stats_mean_over_an_interval(kind):
    acc = StatsMean()
    assert acc.pop() is None
    for i in range(4):
        values = [float(i), 2.0 * i, 1.0, 0.5, 3.0, float(i == 0)]
        acc.add(UpdateStats(*(torch.tensor(v) for v in values)) if kind == "tensor"
                else UpdateStats(*values))
    mean, total = acc.pop()
    assert mean.policy_loss == pytest.approx(1.5) and mean.value_loss == pytest.approx(3.0)
    assert mean.entropy == pytest.approx(1.0) and total.adv_norm_fallback == 1.0
    assert acc.pop() is None and acc.count == 0


def test_running_mean_std_matches_numpy_over_batches():
    rng = np.random.default_rng(0)
    data = rng.normal(3.0, 2.0, size=(1000, 4))
    rms = RunningMeanStd((4,), epsilon=0.0)
    rms.count = 0.0
    for chunk in np.split(data, 10):
        rms.update(chunk)
    assert rms.mean == pytest.approx(data.mean(0))
    assert rms.var == pytest.approx(data.var(0))


def test_reward_scaler_keeps_sign_and_restarts_returns_on_done():
    scaler = RewardScaler(2, 0.99, enabled=True)
    for _ in range(100):
        out = scaler(np.array([10.0, -10.0]), np.array([False, True]))
    assert out[0] > 0 > out[1]
    assert scaler.returns[1] == 0.0 and scaler.returns[0] > 10.0
