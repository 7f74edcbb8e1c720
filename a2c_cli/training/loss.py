"""The A2C loss (Mnih et al., 2016, synchronous form), written once for the torch backends,
and the statistics of an update.

``policy_loss + vf_coef * value_loss - ent_coef * entropy`` on one rollout, with GAE
advantages (Schulman et al., 2016) computed from the same forward pass. The NumPy backend
(:mod:`a2c_cli.training.numpy_backend`) differentiates the same expression by hand; tests
compare the two.
"""

from __future__ import annotations

from typing import NamedTuple, Tuple, Union

import numpy as np
import torch
from torch import Tensor

from a2c_cli.agent.networks import ActorCritic
from a2c_cli.config import AlgoConfig
from a2c_cli.errors import NonFiniteError
from a2c_cli.training.rollout import Rollout, compute_gae

Scalar = Union[float, Tensor]


class UpdateStats(NamedTuple):
    """What one update reports (floats, or 0-d tensors left on the learner's device)."""

    policy_loss: Scalar
    value_loss: Scalar
    entropy: Scalar
    explained_variance: Scalar
    #: Gradient norm before clipping.
    grad_norm: Scalar
    #: 1 when advantage normalisation fell back to centring (std not finite), else 0.
    adv_norm_fallback: Scalar


#: The quantities checked for NaN/inf before the optimizer step, in the order reported.
GUARDED = ("policy_loss", "value_loss", "entropy", "grad_norm")


def check_finite(finite: np.ndarray) -> None:
    """Raise :class:`NonFiniteError` naming the first :data:`GUARDED` quantity that is not
    finite (``finite`` holds one flag per quantity)."""
    if not finite.all():
        raise NonFiniteError(GUARDED[int(np.flatnonzero(~finite)[0])])


def advantages_and_returns(rollout: Rollout, values: Tensor, last_value: Tensor,
                           algo: AlgoConfig, on_host: bool) -> Tuple[Tensor, Tensor]:
    """GAE advantages and returns, flattened to (T * N,). ``on_host`` computes them on
    zero-copy NumPy views of CPU tensors: the backward loop over T rows costs far less in
    NumPy than in torch's per-op dispatch (a compiled graph keeps it in torch)."""
    n_steps, num_envs = rollout.rewards.shape
    if on_host:
        adv, ret = compute_gae(rollout.rewards.numpy(), values.numpy().reshape(n_steps, num_envs),
                               rollout.terminated.numpy(), rollout.done.numpy(),
                               rollout.final_values.numpy(), last_value.numpy(), algo.gamma,
                               algo.gae_lambda)
        return torch.from_numpy(adv.reshape(-1)), torch.from_numpy(ret.reshape(-1))
    adv_t, ret_t = compute_gae(rollout.rewards, values.view(n_steps, num_envs),
                               rollout.terminated, rollout.done, rollout.final_values,
                               last_value, algo.gamma, algo.gae_lambda)
    return adv_t.reshape(-1), ret_t.reshape(-1)


def a2c_loss(network: ActorCritic, rollout: Rollout, last_obs: Tensor, algo: AlgoConfig,
             ent_coef: Tensor, gae_on_host: bool) -> Tuple[Tensor, Tensor]:
    """The loss to minimise and the detached statistics (policy loss, value loss, entropy,
    explained variance, advantage-normalisation fallback).

    ``ent_coef`` (the scheduled entropy bonus) is a 0-d tensor, so a compiled loss or a
    captured graph reads each update's value instead of baking in the first.

    The rollout's observations and ``last_obs`` (the observation after the last step) go
    through the network in one batch: the values for GAE come from the parameters that
    collected the rollout, and the bootstrap value costs no extra forward pass.
    """
    n_steps, num_envs = rollout.rewards.shape
    batch = n_steps * num_envs
    obs = torch.cat([rollout.obs.reshape(batch, *rollout.obs.shape[2:]), last_obs], dim=0)
    dist_params, values_all = network(obs)
    values = values_all[:batch]
    log_prob, entropy = network.dist.log_prob_entropy(
        dist_params[:batch], rollout.actions.reshape(batch, *rollout.actions.shape[2:]))
    with torch.no_grad():
        advantages, returns = advantages_and_returns(
            rollout, values.detach(), values_all[batch:].detach(), algo, gae_on_host)
        fallback = torch.zeros((), device=obs.device)
        if algo.normalize_advantage:
            advantages, fallback = normalize_advantages(advantages)
    policy_loss = -(advantages * log_prob).mean()
    value_loss = torch.nn.functional.mse_loss(values, returns)
    entropy_mean = entropy.mean()
    loss = policy_loss + algo.vf_coef * value_loss - ent_coef * entropy_mean
    with torch.no_grad():
        stats = torch.stack([policy_loss, value_loss, entropy_mean,
                             explained_variance(values, returns), fallback])
    return loss, stats


def normalize_advantages(advantages: Tensor, eps: float = 1e-8) -> tuple[Tensor, Tensor]:
    """Zero mean, unit std; falls back to centring alone when the std is not finite
    (e.g. a batch of one). Returns the advantages and 1.0 if the fallback was used."""
    mean = advantages.mean()
    std = advantages.std() if advantages.numel() > 1 else torch.full_like(mean, float("nan"))
    ok = torch.isfinite(std)
    normalized = torch.where(ok, (advantages - mean) / (std + eps), advantages - mean)
    return normalized, (~ok).float()


def normalize_advantages_np(advantages: np.ndarray,
                            eps: float = 1e-8) -> tuple[np.ndarray, float]:
    """:func:`normalize_advantages` on a NumPy array."""
    mean = advantages.mean()
    std = advantages.std(ddof=1) if advantages.size > 1 else float("nan")
    if np.isfinite(std):
        return (advantages - mean) / (std + eps), 0.0
    return advantages - mean, 1.0


def explained_variance(prediction: Tensor, target: Tensor) -> Tensor:
    """1 - Var[target - prediction] / Var[target]; 0 when the target has no variance
    (undefined there; 0 keeps interval averages finite)."""
    var_target = target.var()
    return torch.where(var_target > 0, 1 - (target - prediction).var() / var_target,
                       torch.zeros_like(var_target))
