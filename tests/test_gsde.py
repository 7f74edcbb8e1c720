"""network.gsde: state-dependent exploration, against torch.distributions and SB3's
definition, in the network, a run, a2c-eval and the config checks."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from torch.distributions import Normal

from a2c_cli.agent.distributions import StateDependentGaussian
from a2c_cli.agent.networks import ActorCritic
from a2c_cli.config import NetworkConfig
from a2c_cli.envs.spaces import EnvSpaces
from a2c_cli.errors import ConfigError
from a2c_cli.training.checkpoint import load_checkpoint
from a2c_cli.validation import validate

from .conftest import A2C_EVAL, a2c_train, compose_config, run_cli, to_config

D, K = 3, 5  # action dims, actor features


def dist_and_params(batch: int, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    log_std = torch.nn.Parameter(torch.randn(K, D, generator=gen) * 0.5 - 1.0)
    mean = torch.randn(batch, D, generator=gen)
    features = torch.tanh(torch.randn(batch, K, generator=gen)).requires_grad_()
    return StateDependentGaussian(log_std, D), log_std, mean, features


def test_log_prob_and_entropy_are_a_normal_with_state_dependent_variance():
    dist, log_std, mean, features = dist_and_params(7)
    actions = torch.randn(7, D)
    log_prob, entropy = dist.log_prob_entropy(torch.cat([mean, features], -1), actions)
    variance = (features ** 2) @ (log_std.exp() ** 2)
    reference = Normal(mean, torch.sqrt(variance + StateDependentGaussian.EPSILON))
    torch.testing.assert_close(log_prob, reference.log_prob(actions).sum(-1))
    torch.testing.assert_close(entropy, reference.entropy().sum(-1))
    log_prob.sum().backward()
    assert log_std.grad is not None and log_std.grad.abs().sum() > 0
    # The features get no gradient through the noise scale (SB3's learn_features=False).
    assert features.grad is None or not features.grad.any()
    mean_grad = torch.autograd.grad(
        dist.log_prob_entropy(torch.cat([mean.requires_grad_(), features], -1), actions)[0].sum(),
        mean)[0]
    assert mean_grad.abs().sum() > 0


def test_noise_is_fixed_within_a_rollout_and_redrawn_for_the_next():
    dist, log_std, mean, features = dist_and_params(4)
    params = torch.cat([mean, features], -1).detach()
    dist.reset_noise(4)
    first = dist.sample(params)
    torch.testing.assert_close(dist.sample(params), first)  # same states, same noise
    for i in range(4):  # one matrix per env
        torch.testing.assert_close(first[i], mean[i] + features[i].detach() @ dist.matrices[i])
    assert dist.matrices.shape == (4, K, D)
    three = dist.sample(params[:3])  # not one row per env: the shared matrix
    torch.testing.assert_close(three, mean[:3] + features[:3].detach() @ dist.matrix)
    dist.reset_noise(4)
    assert not torch.allclose(dist.sample(params), first)
    torch.testing.assert_close(dist.mode(params), mean)


def test_matrices_are_drawn_with_the_learnt_scales():
    dist, log_std, _, _ = dist_and_params(1)
    torch.manual_seed(0)
    dist.reset_noise(20000)
    measured = dist.matrices.std(dim=0)
    torch.testing.assert_close(measured, log_std.detach().exp(), rtol=0.03, atol=0.0)


def test_the_network_emits_means_and_features():
    spaces = EnvSpaces(8, False, D, -np.ones(D, np.float32), np.ones(D, np.float32))
    net = ActorCritic(spaces, NetworkConfig(shared=[], actor=[K], critic=[16], gsde=True,
                                            log_std_init=-2.0))
    assert net.log_std.shape == (K, D) and float(net.log_std.detach().mean()) == -2.0
    obs = torch.randn(6, 8)
    params, values = net(obs)
    assert params.shape == (6, D + K) and values.shape == (6,)
    features = net.actor_body(obs)
    torch.testing.assert_close(params[:, D:], features)
    torch.testing.assert_close(net.act(obs, deterministic=True), net.policy_out(features))


def test_each_rollout_draws_new_matrices_one_per_env():
    """Within a rollout an env's noise is a function of its state; the next rollout draws
    new matrices (SB3's sde_sample_freq=-1 for A2C)."""
    import gymnasium as gym

    from .conftest import make_collector

    envs = gym.make_vec("Pendulum-v1", num_envs=3, vectorization_mode="sync")
    try:
        torch.manual_seed(0)
        collector, buf, agent = make_collector(envs, 4, NetworkConfig(gsde=True), seed=0)
        collector.collect(0)
        first = agent.network.dist.matrices.clone()
        actions = buf.actions.copy()
        assert first.shape == (3, 32, 1)
        params, _ = agent.network(torch.from_numpy(buf.obs.reshape(12, -1)))
        features = params[:, 1:].detach().reshape(4, 3, -1)
        expected = params[:, :1].detach().reshape(4, 3, 1) + torch.einsum(
            "tek,ekd->ted", features, first)
        np.testing.assert_allclose(actions, expected.numpy(), rtol=1e-5, atol=1e-6)
        collector.collect(12)
        assert not torch.equal(agent.network.dist.matrices, first)
    finally:
        envs.close()


@pytest.mark.parametrize("overrides, says", [
    (["env=cartpole", "network.gsde=true"], "has discrete actions"),
    (["env=pendulum", "network.gsde=true", "backend=numpy"], "eager torch backend"),
    (["env=pendulum", "network.gsde=true", "network.log_std_min=-3"], "does not apply"),
])
def test_gsde_config_is_checked(overrides, says):
    from a2c_cli.validation import check_environment

    config = to_config(compose_config(overrides))
    with pytest.raises(ConfigError, match=says):
        validate(config)
        check_environment(config)


def test_auto_backend_is_torch_with_gsde():
    from a2c_cli.training.backends import resolve_backend

    config = to_config(compose_config(["env=pendulum", "network.gsde=true"]))
    for device in ("cpu", "cuda"):
        assert resolve_backend("auto", config, torch.device(device))[0] == "torch"


def test_a_gsde_run_trains_saves_and_replays(tmp_path):
    run_dir = tmp_path / "run"
    a2c_train(["env=pendulum", "network.gsde=true", "network.log_std_init=-2",
               "total_timesteps=8000", "eval.every_steps=4000", "eval.final_episodes=4",
               "progress=none", f"hydra.run.dir={run_dir}"], dict(os.environ, NO_COLOR="1"))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed"
    final = load_checkpoint(run_dir / "checkpoints" / "final.pt")
    hidden = final["config"]["network"]["actor"][-1]
    assert final["model"]["log_std"].shape == (hidden, 1)
    assert not torch.all(final["model"]["log_std"] == -2.0)  # it learnt its noise scales
    run_cli(A2C_EVAL, [str(run_dir), "episodes=4"], dict(os.environ, NO_COLOR="1"))
    report = json.loads((run_dir / "checkpoints" / "eval.json").read_text())
    assert report["returns"] == metrics["final_eval_returns"]
    assert report["deterministic_action"] == "clipped_mean"
    run_cli(A2C_EVAL, [str(run_dir), "episodes=4", "deterministic_action=mean_of_clipped"],
            dict(os.environ, NO_COLOR="1"))
    other = json.loads((run_dir / "checkpoints" / "eval.json").read_text())
    assert other["deterministic_action"] == "mean_of_clipped"
    assert other["returns"] != metrics["final_eval_returns"]
