"""Action distributions as plain tensor functions.

Equivalent to ``torch.distributions.Categorical``, independent categoricals and Bernoullis,
and an independent ``Normal`` summed over action dimensions (tests check them), without
building distribution objects on every environment step, which costs more than the small
network itself.
"""

from __future__ import annotations

import math
from typing import Optional, Protocol, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class ActionDistribution(Protocol):
    """What the actor-critic needs from a policy head's distribution."""

    def sample(self, params: Tensor) -> Tensor: ...

    def mode(self, params: Tensor) -> Tensor: ...

    def log_prob_entropy(self, params: Tensor, actions: Tensor) -> Tuple[Tensor, Tensor]: ...

    def reset_noise(self, num_envs: int) -> None:
        """Draw new exploration noise for ``num_envs`` envs (at each rollout's start)."""
        ...


class Categorical:
    """Discrete actions; ``params`` are unnormalised logits of shape (batch, n)."""

    def sample(self, logits: Tensor) -> Tensor:
        # Gumbel-max: argmax(logits + Gumbel noise), Gumbel = -log(Exp(1)). Exact, and a
        # few times cheaper than softmax + multinomial for small batches.
        return (logits - torch.empty_like(logits).exponential_().log()).argmax(dim=-1)

    def mode(self, logits: Tensor) -> Tensor:
        return logits.argmax(dim=-1)

    def log_prob_entropy(self, logits: Tensor, actions: Tensor) -> Tuple[Tensor, Tensor]:
        log_p = torch.log_softmax(logits, dim=-1)
        log_prob = log_p.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)
        entropy = -(log_p.exp() * log_p).sum(-1)
        return log_prob, entropy

    def reset_noise(self, num_envs: int) -> None:
        """Noise is drawn per step."""


class MultiCategorical:
    """``MultiDiscrete`` actions: one independent categorical per component, ``params`` the
    components' logits side by side (batch, sum(nvec)); log-probabilities and entropies are
    summed over components (as SB3's MultiCategoricalDistribution)."""

    def __init__(self, nvec: Sequence[int]) -> None:
        self.nvec = [int(n) for n in nvec]
        self.categorical = Categorical()

    def _split(self, logits: Tensor) -> Tuple[Tensor, ...]:
        return torch.split(logits, self.nvec, dim=-1)

    def sample(self, logits: Tensor) -> Tensor:
        return torch.stack([self.categorical.sample(part) for part in self._split(logits)], -1)

    def mode(self, logits: Tensor) -> Tensor:
        return torch.stack([part.argmax(dim=-1) for part in self._split(logits)], -1)

    def log_prob_entropy(self, logits: Tensor, actions: Tensor) -> Tuple[Tensor, Tensor]:
        log_prob = entropy = torch.zeros((), dtype=logits.dtype, device=logits.device)
        for i, part in enumerate(self._split(logits)):
            lp, ent = self.categorical.log_prob_entropy(part, actions[..., i])
            log_prob, entropy = log_prob + lp, entropy + ent
        return log_prob, entropy

    def reset_noise(self, num_envs: int) -> None:
        """Noise is drawn per step."""


class Bernoulli:
    """``MultiBinary`` actions: independent Bernoulli bits with ``params`` their logits
    (batch, n); log-probabilities and entropies summed over bits."""

    def sample(self, logits: Tensor) -> Tensor:
        return (torch.rand_like(logits) < torch.sigmoid(logits)).long()

    def mode(self, logits: Tensor) -> Tensor:
        return (logits > 0).long()

    def log_prob_entropy(self, logits: Tensor, actions: Tensor) -> Tuple[Tensor, Tensor]:
        bits = actions.to(logits.dtype)
        # log p(1) = logsigmoid(l), log p(0) = logsigmoid(-l): stable for large |l|.
        log_p1, log_p0 = F.logsigmoid(logits), F.logsigmoid(-logits)
        log_prob = (bits * log_p1 + (1.0 - bits) * log_p0).sum(-1)
        entropy = -(log_p1.exp() * log_p1 + log_p0.exp() * log_p0).sum(-1)
        return log_prob, entropy

    def reset_noise(self, num_envs: int) -> None:
        """Noise is drawn per step."""


#: (low, high) action bounds: with them, log-probabilities are those of the clipped action.
Bounds = Optional[Tuple[Tensor, Tensor]]


def gaussian_log_prob(mean: Tensor, log_std: Tensor, actions: Tensor,
                      bounds: Bounds = None) -> Tensor:
    """Per-dimension log-probabilities of ``actions`` (batch, d) under N(mean, exp(log_std)^2).

    With ``bounds`` (CAPG, Fujita & Maeda 2018): where a sample lies at or beyond a bound,
    the env received the bound, and its log-probability is that of all samples beyond it,
    log Phi((low - mean) / std) or log Phi((mean - high) / std).
    """
    inv_std = torch.exp(-log_std)
    z = (actions - mean) * inv_std
    log_prob = -0.5 * z.pow(2) - log_std - _HALF_LOG_2PI
    if bounds is None:
        return log_prob
    low, high = bounds
    below = torch.special.log_ndtr((low - mean) * inv_std)
    above = torch.special.log_ndtr((mean - high) * inv_std)
    return torch.where(actions <= low, below, torch.where(actions >= high, above, log_prob))


def finite_bounds(low: Tensor, high: Tensor) -> Tuple[Tensor, Tensor]:
    """Bounds for :func:`gaussian_log_prob`: an infinite bound becomes one no sample reaches
    and whose log-probability stays finite (so ``torch.where``'s unused branch has a finite
    gradient)."""
    return low.clamp(min=-1e6), high.clamp(max=1e6)


class DiagGaussian:
    """Continuous actions; ``params`` are means (batch, d), with a state-independent log-std,
    floored at ``log_std_min`` when one is given (below the floor its gradient is 0).

    Samples are unclipped; only the copy sent to the environment is clipped to the action
    bounds. The log-probability is that of the sample itself, or with ``bounds`` that of the
    clipped action (:func:`gaussian_log_prob`).
    """

    def __init__(self, log_std: Tensor, log_std_min: Optional[float] = None,
                 bounds: Bounds = None) -> None:
        self.log_std, self.log_std_min, self.bounds = log_std, log_std_min, bounds

    def effective_log_std(self) -> Tensor:
        if self.log_std_min is None:
            return self.log_std
        return self.log_std.clamp(min=self.log_std_min)

    def sample(self, mean: Tensor) -> Tensor:
        return mean + self.effective_log_std().exp() * torch.randn_like(mean)

    def mode(self, mean: Tensor) -> Tensor:
        return mean

    def log_prob_entropy(self, mean: Tensor, actions: Tensor) -> Tuple[Tensor, Tensor]:
        log_std = self.effective_log_std()
        log_prob = gaussian_log_prob(mean, log_std, actions, self.bounds).sum(-1)
        entropy = (0.5 + _HALF_LOG_2PI + log_std).sum(-1).expand(mean.shape[0])
        return log_prob, entropy

    def mean_std(self, mean: Tensor) -> Tuple[Tensor, Tensor]:
        """Per-sample means and standard deviations, both (batch, d)."""
        return mean, self.effective_log_std().exp().expand_as(mean)

    def reset_noise(self, num_envs: int) -> None:
        """Noise is drawn per step."""


class StateDependentGaussian:
    """gSDE: continuous actions whose exploration noise is a function of the state.

    ``params`` are the means (batch, d) followed by the actor's last hidden features
    (batch, k). A sample is ``mean + features @ W`` with ``W`` (k, d) drawn from
    N(0, exp(log_std)^2) per env and kept until :meth:`reset_noise`; so, given ``W``, an
    action is N(mean, features^2 @ exp(log_std)^2) distributed, which is what the
    log-probability and entropy use. As Stable-Baselines3's StateDependentNoiseDistribution
    (full_std, no expln, no squashing, learn_features=False): the features are detached
    wherever the noise enters, in the samples and in the variance. With the variance's
    gradient reaching them, one BipedalWalker seed's action std fell under 0.1 within 250k
    steps, and it stood still for good.
    """

    EPSILON = 1e-6

    def __init__(self, log_std: Tensor, action_dim: int, bounds: Bounds = None) -> None:
        self.log_std, self.action_dim, self.bounds = log_std, action_dim, bounds
        self.reset_noise(1)

    def reset_noise(self, num_envs: int) -> None:
        """New matrices: one per env, and one shared by batches that are not one row per
        env (EnvPool's pipelined halves, a2c-eval's stochastic evaluation)."""
        std = self.log_std.detach().exp()
        self.matrix = std * torch.randn_like(std)
        self.matrices = std * torch.randn((num_envs, *std.shape), dtype=std.dtype,
                                          device=std.device)

    def sample(self, params: Tensor) -> Tensor:
        mean, features = params[:, :self.action_dim], params[:, self.action_dim:].detach()
        if len(features) > 1 and len(features) == len(self.matrices):
            return mean + torch.bmm(features.unsqueeze(1), self.matrices).squeeze(1)
        return mean + features @ self.matrix

    def mode(self, params: Tensor) -> Tensor:
        return params[:, :self.action_dim]

    def _variance(self, features: Tensor) -> Tensor:
        return (features * features) @ torch.exp(2.0 * self.log_std)

    def mean_std(self, params: Tensor) -> Tuple[Tensor, Tensor]:
        """Per-sample means and standard deviations (over the noise matrices), (batch, d)."""
        mean, features = params[:, :self.action_dim], params[:, self.action_dim:].detach()
        return mean, (self._variance(features) + self.EPSILON).sqrt()

    def log_prob_entropy(self, params: Tensor, actions: Tensor) -> Tuple[Tensor, Tensor]:
        mean, features = params[:, :self.action_dim], params[:, self.action_dim:].detach()
        log_std = 0.5 * torch.log(self._variance(features) + self.EPSILON)
        log_prob = gaussian_log_prob(mean, log_std, actions, self.bounds).sum(-1)
        entropy = (0.5 + _HALF_LOG_2PI + log_std).sum(-1)
        return log_prob, entropy


def mean_of_clipped(mean: Tensor, std: Tensor, low: Tensor, high: Tensor) -> Tensor:
    """E[clip(a, low, high)] for a ~ N(mean, std^2) elementwise, in closed form: the mean of
    the action the env receives when the policy samples (the clipped Gaussian's mean).

    Where the mean lies outside the bounds, ``clip(mean)`` is the bound itself, a harder push
    than the sampling policy ever gives on average. Infinite bounds are moved to 12 stds
    from the mean, where the truncated mass is below float precision.
    """
    std = std.clamp_min(1e-6)
    low = torch.maximum(low, mean - 12.0 * std)
    high = torch.minimum(high, mean + 12.0 * std)
    alpha, beta = (low - mean) / std, (high - mean) / std
    below, above = _normal_cdf(alpha), _normal_cdf(-beta)
    inside = 1.0 - below - above
    return (low * below + high * above + mean * inside
            + std * (_normal_pdf(alpha) - _normal_pdf(beta)))


def _normal_cdf(x: Tensor) -> Tensor:
    return 0.5 * torch.erfc(-x / math.sqrt(2.0))


def _normal_pdf(x: Tensor) -> Tensor:
    return torch.exp(-0.5 * x * x - _HALF_LOG_2PI)
