"""The A2C learner: one gradient step on a rollout (Mnih et al., 2016, synchronous form).

Knows nothing of Hydra, environments or logging: it gets a network and an optimizer,
and turns a :class:`~a2c_cli.rollout.Rollout` into a parameter update and a vector of
statistics (kept on the device, so no host sync per update).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import torch
from torch import Tensor, nn

from a2c_cli.config import AlgoConfig
from a2c_cli.networks import ActorCritic
from a2c_cli.rollout import Rollout, compute_gae


class NonFiniteError(ArithmeticError):
    """A loss or gradient became NaN/inf; the optimizer step was not taken."""

    def __init__(self, quantity: str) -> None:
        super().__init__(f"non-finite {quantity}")
        self.quantity = quantity

    def __reduce__(self):  # noqa: ANN204 - picklable across launcher processes
        return type(self), (self.quantity,)


#: Order of the entries of the statistics vector returned by :meth:`A2C.update`.
STAT_NAMES = (
    "policy_loss",
    "value_loss",
    "entropy",
    "explained_variance",
    "grad_norm",
    "adv_norm_fallback",
)


def make_optimizer(params: Iterator[nn.Parameter], algo: AlgoConfig) -> torch.optim.Optimizer:
    """Adam, or RMSprop with the A2C paper's alpha=0.99 (SB3's default for A2C).

    Adam uses the fused kernel (CPU and CUDA): for these small networks the per-tensor
    implementation costs several times more than the whole forward pass. RMSprop has no
    fused kernel; the multi-tensor (foreach) one is the next best.
    """
    if algo.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=algo.lr, alpha=0.99, eps=algo.optimizer_eps,
                                   foreach=True)
    return torch.optim.Adam(params, lr=algo.lr, eps=algo.optimizer_eps, fused=True)


def learning_rate(algo: AlgoConfig, progress: float) -> float:
    """The learning rate at ``progress`` in [0, 1] of the run (linear decays to 0)."""
    if algo.lr_schedule == "linear":
        return algo.lr * max(1.0 - progress, 0.0)
    return algo.lr


@dataclass
class A2C:
    """Actor loss + vf_coef * critic loss - ent_coef * entropy, one step per rollout."""

    network: ActorCritic
    optimizer: torch.optim.Optimizer
    algo: AlgoConfig

    def __post_init__(self) -> None:
        #: What the optimizer updates (the network's parameters, or one flattened view).
        self.params = [p for group in self.optimizer.param_groups for p in group["params"]]

    def set_learning_rate(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def update(self, rollout: Rollout, last_obs: Tensor) -> Tensor:
        """One gradient step; returns the statistics in :data:`STAT_NAMES` order.

        The rollout's observations and ``last_obs`` (the observation after the last step)
        go through the network in one batch: the values for GAE come from the same
        parameters that collected the rollout, so they need not be stored while
        collecting, and the bootstrap value costs no extra forward pass.
        """
        algo = self.algo
        n_steps, num_envs = rollout.rewards.shape
        batch = n_steps * num_envs
        obs = torch.cat([rollout.obs.reshape(batch, -1), last_obs], dim=0)
        params, values_all = self.network(obs)
        values = values_all[:batch]
        log_prob, entropy = self.network.dist.log_prob_entropy(
            params[:batch], rollout.actions.reshape(batch, *rollout.actions.shape[2:])
        )
        with torch.no_grad():
            advantages, returns = compute_gae(
                rollout.rewards,
                values.detach().view(n_steps, num_envs),
                rollout.terminated,
                rollout.done,
                rollout.final_values,
                values_all[batch:].detach(),
                algo.gamma,
                algo.gae_lambda,
            )
            advantages = advantages.reshape(batch)
            returns = returns.reshape(batch)
            fallback = torch.zeros((), device=obs.device)
            if algo.normalize_advantage:
                advantages, fallback = normalize_advantages(advantages)

        policy_loss = -(advantages * log_prob).mean()
        value_loss = torch.nn.functional.mse_loss(values, returns)
        entropy_mean = entropy.mean()
        loss = policy_loss + algo.vf_coef * value_loss - algo.ent_coef * entropy_mean

        self.optimizer.zero_grad(set_to_none=False)  # keeps flattened gradient views
        loss.backward()
        # clip_grad_norm_ returns the total norm before clipping.
        grad_norm = nn.utils.clip_grad_norm_(self.params, algo.max_grad_norm)
        guarded = torch.stack([policy_loss, value_loss, entropy_mean, grad_norm]).detach()
        finite = torch.isfinite(guarded)
        if not bool(finite.all()):  # one host sync per update; collection syncs anyway
            names = ("policy_loss", "value_loss", "entropy", "grad_norm")
            raise NonFiniteError(names[int((~finite).nonzero()[0])])
        self.optimizer.step()

        with torch.no_grad():
            explained_var = explained_variance(values.detach(), returns)
            return torch.stack([
                policy_loss.detach(), value_loss.detach(), entropy_mean.detach(),
                explained_var, grad_norm.detach(), fallback,
            ])


def normalize_advantages(advantages: Tensor, eps: float = 1e-8) -> tuple[Tensor, Tensor]:
    """Zero mean, unit std; falls back to centring alone when the std is not finite
    (e.g. a batch of one). Returns the advantages and 1.0 if the fallback was used."""
    mean = advantages.mean()
    std = advantages.std() if advantages.numel() > 1 else torch.full_like(mean, float("nan"))
    ok = torch.isfinite(std)
    normalized = torch.where(ok, (advantages - mean) / (std + eps), advantages - mean)
    return normalized, (~ok).float()


def explained_variance(prediction: Tensor, target: Tensor) -> Tensor:
    """1 - Var[target - prediction] / Var[target]; 0 when the target has no variance
    (undefined there; 0 keeps interval averages finite)."""
    var_target = target.var()
    return torch.where(var_target > 0, 1 - (target - prediction).var() / var_target,
                       torch.zeros_like(var_target))
