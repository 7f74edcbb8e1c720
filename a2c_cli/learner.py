"""The A2C learner: one gradient step on a rollout (Mnih et al., 2016, synchronous form).

Knows nothing of Hydra, environments or logging: it gets a network and an optimizer,
and turns a :class:`~a2c_cli.rollout.Rollout` into a parameter update and a vector of
statistics (kept on the device, so no host sync per update).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional

import numpy as np
import torch
from torch import Tensor, nn

from a2c_cli.config import AlgoConfig
from a2c_cli.networks import ActorCritic
from a2c_cli.numpy_mlp import NumpyActorCritic
from a2c_cli.numpy_optim import numpy_step
from a2c_cli.numpy_optim import supports as numpy_step_supports
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
    #: The same network on NumPy views (CPU only): the loss and its gradients are then
    #: computed there instead of by autograd, and Adam/RMSprop step in NumPy on the
    #: optimizer's own state (:func:`numpy_step`; other optimizers step in torch).
    numpy_network: Optional[NumpyActorCritic] = None

    def __post_init__(self) -> None:
        #: What the optimizer updates (the network's parameters, or one flattened view).
        self.params = [p for group in self.optimizer.param_groups for p in group["params"]]
        self._numpy_step = self.numpy_network is not None and \
            numpy_step_supports(self.optimizer)

    def set_learning_rate(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def _advantages(self, rollout: Rollout, values: Tensor,
                    last_value: Tensor) -> tuple[Tensor, Tensor]:
        """GAE advantages and returns, flattened to (T * N,). On the CPU, computed on
        zero-copy NumPy views (see :func:`compute_gae`)."""
        if values.device.type == "cpu":
            adv, ret = self._advantages_np(rollout, values.numpy(), last_value.numpy())
            return torch.from_numpy(adv), torch.from_numpy(ret)
        n_steps, num_envs = rollout.rewards.shape
        adv_t, ret_t = compute_gae(rollout.rewards, values.view(n_steps, num_envs),
                                   rollout.terminated, rollout.done, rollout.final_values,
                                   last_value, self.algo.gamma, self.algo.gae_lambda)
        return adv_t.reshape(-1), ret_t.reshape(-1)

    def _advantages_np(self, rollout: Rollout, values: np.ndarray,
                       last_value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_advantages` for a CPU rollout and NumPy values (T * N,)."""
        n_steps, num_envs = rollout.rewards.shape
        adv, ret = compute_gae(rollout.rewards.numpy(), values.reshape(n_steps, num_envs),
                               rollout.terminated.numpy(), rollout.done.numpy(),
                               rollout.final_values.numpy(), last_value, self.algo.gamma,
                               self.algo.gae_lambda)
        return adv.reshape(-1), ret.reshape(-1)

    def update(self, rollout: Rollout, last_obs: Tensor) -> Tensor:
        """One gradient step; returns the statistics in :data:`STAT_NAMES` order.

        The rollout's observations and ``last_obs`` (the observation after the last step)
        go through the network in one batch: the values for GAE come from the same
        parameters that collected the rollout, so they need not be stored while
        collecting, and the bootstrap value costs no extra forward pass.
        """
        if self.numpy_network is not None:
            return self._update_numpy(rollout, last_obs)
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
            advantages, returns = self._advantages(rollout, values.detach(),
                                                   values_all[batch:].detach())
            fallback = torch.zeros((), device=obs.device)
            if algo.normalize_advantage:
                advantages, fallback = normalize_advantages(advantages)

        policy_loss = -(advantages * log_prob).mean()
        value_loss = torch.nn.functional.mse_loss(values, returns)
        entropy_mean = entropy.mean()
        loss = policy_loss + algo.vf_coef * value_loss - algo.ent_coef * entropy_mean

        for p in self.params:  # zero in place: keeps flattened gradient views
            if p.grad is not None:
                p.grad.zero_()
        loss.backward()
        grad_norm = clip_grad_norm(self.params, algo.max_grad_norm)
        guarded = torch.stack([policy_loss, value_loss, entropy_mean, grad_norm]).detach()
        _check_finite(torch.isfinite(guarded).cpu().numpy())  # one host sync per update
        self.optimizer.step()

        with torch.no_grad():
            explained_var = explained_variance(values.detach(), returns)
            return torch.stack([
                policy_loss.detach(), value_loss.detach(), entropy_mean.detach(),
                explained_var, grad_norm.detach(), fallback,
            ])


    def _update_numpy(self, rollout: Rollout, last_obs: Tensor) -> Tensor:
        """:meth:`update` with the loss and gradients computed by the NumPy network."""
        algo, net = self.algo, self.numpy_network
        assert net is not None
        n_steps, num_envs = rollout.rewards.shape
        batch = n_steps * num_envs
        obs = np.concatenate([rollout.obs.numpy().reshape(batch, -1), last_obs.numpy()])
        params, values_all = net.forward(obs)
        values = values_all[:batch]
        advantages, returns = self._advantages_np(rollout, values, values_all[batch:])
        fallback = 0.0
        if algo.normalize_advantage:
            advantages, fallback = normalize_advantages_np(advantages)
        actions = rollout.actions.numpy().reshape(batch, *rollout.actions.shape[2:])
        log_prob, entropy, d_params = net.log_prob_entropy_grads(
            params[:batch], actions, advantages / batch, algo.ent_coef / batch)
        errors = values - returns
        policy_loss = float(-(advantages * log_prob).mean())
        value_loss = float((errors * errors).mean())
        entropy_mean = float(entropy.mean())

        d_params_all = np.zeros_like(params)
        d_params_all[:batch] = d_params
        d_values = np.zeros_like(values_all)
        d_values[:batch] = (2.0 * algo.vf_coef / batch) * errors
        net.backward(d_params_all, d_values)  # writes every parameter's .grad
        grad = self.params[0].grad
        assert grad is not None and len(self.params) == 1
        flat_grad = grad.numpy()
        grad_norm = float(np.sqrt(np.dot(flat_grad, flat_grad)))
        _check_finite(np.isfinite([policy_loss, value_loss, entropy_mean, grad_norm]))
        flat_grad *= min(algo.max_grad_norm / (grad_norm + 1e-6), 1.0)
        if self._numpy_step:
            numpy_step(self.optimizer)
        else:
            self.optimizer.step()

        var_returns = returns.var(ddof=1) if batch > 1 else 0.0
        explained_var = 1.0 - errors.var(ddof=1) / var_returns if var_returns > 0 else 0.0
        return torch.tensor([policy_loss, value_loss, entropy_mean, explained_var, grad_norm,
                             fallback], dtype=torch.float32)


def _check_finite(finite: np.ndarray) -> None:
    """Raise :class:`NonFiniteError` naming the first of policy loss, value loss, entropy
    and grad norm that is not finite."""
    if not finite.all():
        names = ("policy_loss", "value_loss", "entropy", "grad_norm")
        raise NonFiniteError(names[int(np.flatnonzero(~finite)[0])])


def clip_grad_norm(params: list[nn.Parameter], max_norm: float) -> Tensor:
    """Scale gradients to a total L2 norm of at most ``max_norm``; returns the norm before
    clipping. ``nn.utils.clip_grad_norm_``'s arithmetic, without its per-call overhead
    (several times the cost of the math for the one flattened parameter we pass)."""
    grads = [p.grad for p in params if p.grad is not None]
    norms = [torch.linalg.vector_norm(g) for g in grads]
    total = norms[0] if len(norms) == 1 else torch.linalg.vector_norm(torch.stack(norms))
    coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for g in grads:
        g.mul_(coef)
    return total


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
