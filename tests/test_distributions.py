"""The hand-written action distributions agree with torch.distributions, the network
picks the right head for the env's action space, and deterministic continuous actions are
what their names say."""

from __future__ import annotations

import pytest
import torch
from torch.distributions import Categorical as TorchCategorical
from torch.distributions import Normal

from a2c_cli.agent.distributions import (
    Categorical,
    DiagGaussian,
    StateDependentGaussian,
    gaussian_log_prob,
    mean_of_clipped,
)
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


@pytest.mark.parametrize("mean, std", [(0.0, 0.5), (0.9, 1.0), (2.5, 1.2), (-1.7, 0.3),
                                       (0.2, 0.01), (3.0, 0.05)])
def test_mean_of_clipped_is_the_mean_of_clipped_samples(mean, std):
    torch.manual_seed(0)
    samples = (mean + std * torch.randn(400_000, dtype=torch.float64)).clamp(-1.0, 1.0)
    closed = mean_of_clipped(torch.tensor([mean]), torch.tensor([std]),
                             torch.tensor([-1.0]), torch.tensor([1.0]))
    assert closed.item() == pytest.approx(samples.mean().item(), abs=4e-3)
    assert -1.0 <= closed.item() <= 1.0


def test_mean_of_clipped_limits():
    mean = torch.tensor([[0.3, 2.0, -5.0, 0.7]])
    low, high = torch.full((4,), -1.0), torch.full((4,), 1.0)
    # Tiny noise: the clipped mean. Unbounded: the mean itself (no inf * 0 = nan).
    torch.testing.assert_close(mean_of_clipped(mean, torch.full((1, 4), 1e-4), low, high),
                               mean.clamp(-1, 1))
    inf = torch.full((4,), float("inf"))
    torch.testing.assert_close(mean_of_clipped(mean, torch.full((1, 4), 2.0), -inf, inf), mean)
    # Wide noise pulls an out-of-bounds mean back inside: the bound is never its mean.
    wide = mean_of_clipped(mean, torch.full((1, 4), 1.5), low, high)
    assert (wide.abs() < 1.0).all() and wide[0, 1] > 0 > wide[0, 2]


def test_mean_std_of_both_gaussians():
    dist = DiagGaussian(torch.tensor([0.5, -3.0]), log_std_min=-2.0)
    mean, std = dist.mean_std(torch.zeros(3, 2))
    torch.testing.assert_close(std, torch.tensor([[0.5, -2.0]]).exp().expand(3, 2))
    gen = torch.Generator().manual_seed(0)
    log_std = torch.randn(5, 2, generator=gen) - 1.0
    gsde = StateDependentGaussian(log_std, 2)
    features = torch.tanh(torch.randn(1, 5, generator=gen))
    params = torch.cat([torch.tensor([[0.4, -0.2]]), features], -1)
    torch.manual_seed(1)
    gsde.reset_noise(50_000)  # the std over noise matrices of one state's action
    samples = gsde.sample(params.expand(50_000, 7))
    mean, std = gsde.mean_std(params)
    torch.testing.assert_close(mean, params[:, :2])
    torch.testing.assert_close(samples.std(0, keepdim=True), std, rtol=0.03, atol=0.0)


def test_agent_deterministic_actions():
    import numpy as np

    from a2c_cli.agent.agent import Agent
    from a2c_cli.agent.normalization import ObsNormalizer

    spaces = EnvSpaces(3, False, 2, np.array([-1.0, -2.0], np.float32),
                       np.array([1.0, 2.0], np.float32))
    torch.manual_seed(0)
    net = ActorCritic(spaces, NetworkConfig(log_std_init=0.3))
    with torch.no_grad():
        net.policy_out.bias.copy_(torch.tensor([1.6, -0.5]))
    obs = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    norm = ObsNormalizer.for_spaces(spaces, False)
    cpu = torch.device("cpu")
    clipped = Agent(net, norm, spaces, cpu).act(obs)
    expected = Agent(net, norm, spaces, cpu, deterministic_action="mean_of_clipped").act(obs)
    with torch.no_grad():
        mean = net.act(torch.from_numpy(obs), deterministic=True)
    np.testing.assert_allclose(clipped, np.clip(mean.numpy(), [-1, -2], [1, 2]))
    reference = mean_of_clipped(mean, torch.full_like(mean, float(np.exp(0.3))),
                                torch.tensor([-1.0, -2.0]), torch.tensor([1.0, 2.0]))
    np.testing.assert_allclose(expected, reference.numpy(), rtol=1e-6)
    assert (expected[:, 0] < 1.0).all() and (clipped[:, 0] == 1.0).all()
    # Stochastic actions and discrete actions are not affected by the choice.
    discrete = EnvSpaces(3, True, 4, None, None)
    dnet = ActorCritic(discrete, NetworkConfig())
    a = Agent(dnet, norm, discrete, cpu, deterministic_action="mean_of_clipped").act(obs)
    np.testing.assert_array_equal(a, Agent(dnet, norm, discrete, cpu).act(obs))


def test_clipped_log_prob_scores_the_action_the_env_received():
    """network.clipped_log_prob (CAPG): beyond a bound, the log-probability of all samples
    beyond it; inside, the density."""
    mean = torch.tensor([[0.2, 0.9, -0.5]], dtype=torch.float64)
    log_std = torch.tensor([-0.3, 0.1, 0.4], dtype=torch.float64)
    low, high = torch.full((3,), -1.0, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    actions = torch.tensor([[0.5, 1.7, -2.5]], dtype=torch.float64)
    normal = Normal(mean, log_std.exp())
    expected = torch.stack([normal.log_prob(actions)[0, 0],
                            (1 - normal.cdf(high))[0, 1].log(),
                            normal.cdf(low)[0, 2].log()])
    got = gaussian_log_prob(mean, log_std, actions, (low, high))[0]
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(gaussian_log_prob(mean, log_std, actions),
                               normal.log_prob(actions))
    inputs = (mean.clone().requires_grad_(), log_std.clone().requires_grad_())
    assert torch.autograd.gradcheck(
        lambda m, s: gaussian_log_prob(m, s, actions, (low, high)), inputs)
    # Far beyond a bound (40 stds) the log-probability and its gradient stay finite.
    far_mean = torch.full((1, 3), 41.0, dtype=torch.float64, requires_grad=True)
    far = gaussian_log_prob(far_mean, torch.zeros(3, dtype=torch.float64),
                            torch.full((1, 3), -5.0, dtype=torch.float64), (low, high))
    far.sum().backward()
    assert torch.isfinite(far).all() and torch.isfinite(far_mean.grad).all()


def test_clipped_score_is_unbiased_with_less_variance():
    """The score-function estimate of d/dmean E[f(clip(a))] with clipped log-probabilities
    matches the closed-form derivative (f = identity: :func:`mean_of_clipped`), with a
    smaller variance than with the Gaussian density when the mean is near a bound."""
    torch.manual_seed(0)
    low, high = torch.tensor([-1.0]), torch.tensor([1.0])
    mean, log_std = torch.tensor([[0.8]], requires_grad=True), torch.tensor([0.0])
    exact, = torch.autograd.grad(mean_of_clipped(mean, log_std.exp(), low, high).sum(), mean)
    n = 400_000
    actions = (mean.detach() + torch.randn(n, 1)).float()
    payoff = actions.clamp(-1, 1)
    estimates = {}
    for name, bounds in (("clipped", (low, high)), ("density", None)):
        m = mean.detach().repeat(n, 1).requires_grad_()
        per_sample, = torch.autograd.grad(gaussian_log_prob(m, log_std, actions, bounds).sum(),
                                          m)
        estimates[name] = payoff * per_sample
    for name, est in estimates.items():
        assert est.mean().item() == pytest.approx(exact.item(), abs=0.01), name
    assert estimates["clipped"].var() < 0.8 * estimates["density"].var()


def test_clipped_log_prob_bounds_follow_the_network():
    import numpy as np

    spaces = EnvSpaces(3, False, 2, np.array([-1.0, -np.inf], np.float32),
                       np.array([1.0, 2.0], np.float32))
    net = ActorCritic(spaces, NetworkConfig(clipped_log_prob=True)).double()
    low, high = net.dist.bounds
    assert low.dtype == torch.float64 and low[1] == -1e6 and high.tolist() == [1.0, 2.0]
    assert "action_low" not in net.state_dict()  # checkpoints stay as they were
    plain = ActorCritic(spaces, NetworkConfig())
    assert plain.dist.bounds is None
