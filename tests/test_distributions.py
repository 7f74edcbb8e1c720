"""The hand-written action distributions agree with torch.distributions, and the network
picks the right head for the env's action space."""

from __future__ import annotations

import pytest
import torch
from torch.distributions import Categorical as TorchCategorical
from torch.distributions import Normal

from a2c_cli.agent.distributions import Categorical, DiagGaussian
from a2c_cli.agent.networks import ActorCritic
from a2c_cli.config import NetworkConfig
from a2c_cli.envs.spaces import EnvSpaces


def test_categorical_log_prob_and_entropy_match_torch():
    torch.manual_seed(0)
    logits = torch.randn(64, 4)
    actions = torch.randint(0, 4, (64,))
    log_prob, entropy = Categorical().log_prob_entropy(logits, actions)
    ref = TorchCategorical(logits=logits)
    assert torch.allclose(log_prob, ref.log_prob(actions), atol=1e-6)
    assert torch.allclose(entropy, ref.entropy(), atol=1e-6)


def test_categorical_sampling_frequencies_and_mode():
    torch.manual_seed(0)
    probs = torch.tensor([0.1, 0.6, 0.3])
    logits = probs.log().expand(20000, 3)
    samples = Categorical().sample(logits)
    freq = torch.bincount(samples, minlength=3).float() / 20000
    assert torch.allclose(freq, probs, atol=0.02)
    assert Categorical().mode(logits[:1]).item() == 1


def test_gaussian_log_prob_and_entropy_match_torch():
    torch.manual_seed(0)
    mean = torch.randn(32, 2)
    log_std = torch.tensor([-0.5, 0.3])
    actions = torch.randn(32, 2) * 3  # far outside [-1, 1]: log-prob of unclipped samples
    dist = DiagGaussian(log_std)
    log_prob, entropy = dist.log_prob_entropy(mean, actions)
    ref = Normal(mean, log_std.exp())
    assert torch.allclose(log_prob, ref.log_prob(actions).sum(-1), atol=1e-5)
    assert torch.allclose(entropy, ref.entropy().sum(-1), atol=1e-6)


def test_gaussian_samples_have_the_policy_std_and_are_not_clipped():
    torch.manual_seed(0)
    dist = DiagGaussian(torch.tensor([0.5, -1.0]))
    samples = dist.sample(torch.zeros(50000, 2))
    assert samples.std(0).tolist() == pytest.approx([1.6487, 0.3679], rel=0.03)  # e^0.5, e^-1
    assert samples.abs().max() > 1.0


def test_network_head_follows_action_space():
    cfg = NetworkConfig()
    discrete = ActorCritic(EnvSpaces(8, True, 4, None, None), cfg)
    params, value = discrete(torch.zeros(5, 8))
    assert params.shape == (5, 4) and value.shape == (5,)
    assert discrete.act(torch.zeros(5, 8)).dtype == torch.long
    continuous = ActorCritic(EnvSpaces(8, False, 2, None, None), NetworkConfig(log_std_init=-1))
    assert continuous.log_std.tolist() == [-1.0, -1.0]
    log_prob, entropy, value = continuous.evaluate(torch.zeros(5, 8), torch.zeros(5, 2))
    assert log_prob.shape == entropy.shape == value.shape == (5,)
    # log_std is a trained parameter
    assert any(p is continuous.log_std for p in continuous.parameters())


def test_separate_networks_share_nothing():
    net = ActorCritic(EnvSpaces(4, True, 2, None, None), NetworkConfig(shared=[], actor=[16],
                                                                       critic=[16]))
    assert len(net.trunk) == 0
    assert net.actor_body[0].in_features == 4 and net.critic_body[0].in_features == 4
