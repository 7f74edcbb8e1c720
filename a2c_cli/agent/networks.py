"""The actor-critic network: [image encoder], shared MLP trunk, then an actor head and a
critic head."""

from __future__ import annotations

import math
from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from a2c_cli.agent.distributions import (
    ActionDistribution,
    Bernoulli,
    Categorical,
    DiagGaussian,
    MultiCategorical,
    StateDependentGaussian,
    finite_bounds,
    mean_of_clipped,
)
from a2c_cli.agent.encoders import ImageEncoder, PackedEncoder
from a2c_cli.config import NetworkConfig
from a2c_cli.envs.action_masks import MASKED_LOGIT
from a2c_cli.envs.spaces import EnvSpaces

#: The module for each name in :data:`a2c_cli.config.ACTIVATIONS` (a test keeps them equal).
ACTIVATION_MODULES = {"silu": nn.SiLU, "relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU,
                      "gelu": nn.GELU}


def mlp(in_dim: int, sizes: Sequence[int], cfg: NetworkConfig) -> Tuple[nn.Sequential, int]:
    """Linear -> [LayerNorm] -> activation -> [Dropout] per hidden size; returns (net, out_dim)."""
    layers: List[nn.Module] = []
    for size in sizes:
        layers.append(nn.Linear(in_dim, size))
        if cfg.layer_norm:
            layers.append(nn.LayerNorm(size))
        layers.append(ACTIVATION_MODULES[cfg.activation]())
        if cfg.dropout > 0:
            layers.append(nn.Dropout(cfg.dropout))
        in_dim = size
    return nn.Sequential(*layers), in_dim


def _orthogonal_(module: nn.Module, gain: float) -> None:
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.orthogonal_(m.weight, gain)
            nn.init.zeros_(m.bias)


class ActorCritic(nn.Module):
    """Policy and value function in one module.

    ``forward`` returns the distribution parameters (logits, Gaussian means, or with gSDE
    the means followed by the actor's last hidden features) and V(s); :attr:`dist` turns
    parameters into samples, modes, log-probs and entropies.
    """

    def __init__(self, spaces: EnvSpaces, cfg: NetworkConfig) -> None:
        super().__init__()
        self.discrete = spaces.discrete
        #: env.action_mask_key: the observation's last columns, one per logit.
        self.mask_dim = spaces.action_mask_dim
        self.encoder: nn.Module = nn.Identity()
        in_dim = spaces.feature_dim
        if spaces.layout is not None:  # a Dict/Tuple holding images
            self.encoder = PackedEncoder(cfg.encoder, spaces.layout)
            in_dim = self.encoder.out_dim
        elif cfg.encoder != "none":
            self.encoder = ImageEncoder.for_spaces(cfg.encoder, spaces)
            in_dim = self.encoder.out_dim
        self.trunk, trunk_dim = mlp(in_dim, cfg.shared, cfg)
        self.actor_body, actor_dim = mlp(trunk_dim, cfg.actor, cfg)
        self.critic_body, critic_dim = mlp(trunk_dim, cfg.critic, cfg)
        self.policy_out = nn.Linear(actor_dim, spaces.action_dim)
        self.value_out = nn.Linear(critic_dim, 1)
        if cfg.ortho_init:
            # Gains from the A2C/PPO implementation details (SB3, CleanRL).
            for body in (self.encoder, self.trunk, self.actor_body, self.critic_body):
                _orthogonal_(body, math.sqrt(2))
            _orthogonal_(self.policy_out, 0.01)
            _orthogonal_(self.value_out, 1.0)
        self.dist: ActionDistribution
        self.gsde = cfg.gsde and not self.discrete
        bounds = None
        if cfg.clipped_log_prob and not self.discrete:
            low, high = finite_bounds(torch.as_tensor(spaces.action_low, dtype=torch.float32),
                                      torch.as_tensor(spaces.action_high, dtype=torch.float32))
            # Buffers follow the module to its device; not saved (the env defines them).
            self.register_buffer("action_low", low, persistent=False)
            self.register_buffer("action_high", high, persistent=False)
            bounds = (self.action_low, self.action_high)
        if spaces.action_nvec:
            self.dist = MultiCategorical(spaces.action_nvec)
        elif spaces.action_bits:
            self.dist = Bernoulli()
        elif self.discrete:
            self.dist = Categorical()
        elif self.gsde:
            self.log_std = nn.Parameter(torch.full((actor_dim, spaces.action_dim),
                                                   float(cfg.log_std_init), dtype=torch.float32))
            self.dist = StateDependentGaussian(self.log_std, spaces.action_dim, bounds)
        else:
            self.log_std = nn.Parameter(
                torch.full((spaces.action_dim,), float(cfg.log_std_init), dtype=torch.float32))
            self.dist = DiagGaussian(self.log_std, cfg.log_std_min, bounds)

    def _apply(self, fn, recurse=True):  # noqa: ANN001, ANN202 (nn.Module's signature)
        """``.to(device)`` replaces buffers: hand the distribution the moved bounds."""
        super()._apply(fn, recurse)
        if not self.discrete and getattr(self.dist, "bounds", None) is not None:
            self.dist.bounds = (self.action_low, self.action_high)  # type: ignore[union-attr]
        return self

    def _policy_params(self, h: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        features = self.actor_body(h)
        params = self.policy_out(features)
        if mask is not None:  # illegal actions: no probability, never the argmax
            params = params.masked_fill(mask < 0.5, MASKED_LOGIT)
        return torch.cat([params, features], dim=-1) if self.gsde else params

    def _split(self, obs: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        """(what the encoder reads, the action mask or None)."""
        if not self.mask_dim:
            return obs, None
        cut = obs.shape[-1] - self.mask_dim
        return obs[..., :cut], obs[..., cut:]

    def forward(self, obs: Tensor) -> Tuple[Tensor, Tensor]:
        """Distribution parameters (batch, action_dim [+ features with gSDE]) and values
        (batch,)."""
        obs, mask = self._split(obs)
        h = self.trunk(self.encoder(obs))
        params = self._policy_params(h, mask)
        value = self.value_out(self.critic_body(h)).squeeze(-1)
        return params, value

    def act(self, obs: Tensor, deterministic: bool = False) -> Tensor:
        """Sampled (or, deterministic, most likely / mean) actions; unclipped."""
        obs, mask = self._split(obs)
        params = self._policy_params(self.trunk(self.encoder(obs)), mask)
        return self.dist.mode(params) if deterministic else self.dist.sample(params)

    def mean_of_clipped_action(self, obs: Tensor, low: Tensor, high: Tensor) -> Tensor:
        """Continuous actions only: E[clip(a, low, high)] under the policy (see
        :func:`~a2c_cli.agent.distributions.mean_of_clipped`)."""
        assert isinstance(self.dist, (DiagGaussian, StateDependentGaussian))
        mean, std = self.dist.mean_std(self._policy_params(self.trunk(self.encoder(obs))))
        return mean_of_clipped(mean, std, low, high)

    def get_value(self, obs: Tensor) -> Tensor:
        obs = self._split(obs)[0]
        return self.value_out(self.critic_body(self.trunk(self.encoder(obs)))).squeeze(-1)

    def evaluate(self, obs: Tensor, actions: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Log-probabilities of ``actions``, policy entropies and values for ``obs``."""
        params, value = self(obs)
        log_prob, entropy = self.dist.log_prob_entropy(params, actions)
        return log_prob, entropy, value


def flatten_parameters(module: nn.Module) -> nn.Parameter:
    """Make ``module``'s parameters views into one contiguous parameter, and their gradients
    views into one contiguous gradient, and return that parameter.

    Give the optimizer (and gradient clipping) the returned parameter alone: for networks this
    small, per-tensor overhead dominates, and one tensor makes the optimizer step, the
    gradient norm and the clipping a single kernel each. Backward accumulates into the
    existing ``.grad`` views in place, so zero gradients with ``set_to_none=False``.
    """
    params = list(module.parameters())
    flat = nn.Parameter(torch.cat([p.detach().reshape(-1) for p in params]))
    flat.grad = torch.zeros_like(flat)
    offset = 0
    for p in params:
        n = p.numel()
        p.data = flat.data[offset:offset + n].view_as(p)
        p.grad = flat.grad[offset:offset + n].view_as(p)
        offset += n
    return flat
