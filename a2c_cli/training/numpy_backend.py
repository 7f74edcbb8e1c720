"""The NumPy backend (``backend=numpy``; the CPU default where the network allows it).

The same network, loss and optimizer as the torch backends, computed by
:class:`~a2c_cli.agent.numpy_mlp.NumpyActorCritic` (a hand-derived gradient) on views of
the torch parameters, gradients and optimizer state. It earns its second copy of the loss
gradient by speed alone: ``make bench`` measures it against the eager and compiled torch
backends, and tests check every gradient, statistic and optimizer step against autograd.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from a2c_cli.agent.agent import EagerSampler, RolloutSlots
from a2c_cli.agent.networks import ActorCritic
from a2c_cli.agent.numpy_mlp import NumpyActorCritic
from a2c_cli.config import AlgoConfig
from a2c_cli.training.loss import UpdateStats, check_finite, normalize_advantages_np
from a2c_cli.training.optim import numpy_step, numpy_step_supports, optimized_parameters
from a2c_cli.training.rollout import RolloutBuffer, compute_gae


class NumpySampler:
    """Samples from NumPy's global RNG (Gumbel-max / mean + std * N(0, 1)). Values of
    truncated envs' final observations (rare) go through torch."""

    def __init__(self, net: NumpyActorCritic, eager: EagerSampler) -> None:
        self.net, self.eager = net, eager

    def sample(self, obs: np.ndarray) -> np.ndarray:
        return self.net.act(obs)

    def begin_step(self, buffer: RolloutSlots, t: int, envs: slice) -> None:
        buffer.actions[t, envs] = self.net.act(buffer.obs[t, envs])

    def end_step(self, buffer: RolloutSlots, t: int, envs: slice) -> np.ndarray:
        return buffer.actions[t, envs]

    def values(self, obs: np.ndarray) -> np.ndarray:
        return self.eager.values(obs)


class NumpyBackend:
    """Acting and the update in NumPy, for a network whose parameters were flattened."""

    def __init__(self, network: ActorCritic, optimizer: torch.optim.Optimizer,
                 algo: AlgoConfig) -> None:
        self.optimizer, self.algo = optimizer, algo
        params = optimized_parameters(optimizer)
        assert len(params) == 1 and params[0].grad is not None, "flatten_parameters first"
        self.flat_grad = params[0].grad.numpy()
        self.net = NumpyActorCritic(network)
        self.sampler = NumpySampler(self.net, EagerSampler(network, torch.device("cpu")))
        self._numpy_step = numpy_step_supports(optimizer)

    def finish(self) -> None:
        """Nothing pending: every update checks before its step."""

    def update(self, buffer: RolloutBuffer, last_obs: np.ndarray,
               ent_coef: float) -> UpdateStats:
        """:meth:`TorchBackend.update <a2c_cli.training.torch_backend.TorchBackend.update>`
        with the loss gradient and the optimizer step computed in NumPy."""
        algo, net = self.algo, self.net
        n_steps, num_envs = buffer.rewards.shape
        batch = n_steps * num_envs
        obs = np.concatenate([buffer.obs.reshape(batch, -1), last_obs])
        dist_params, values_all = net.forward(obs)
        values = values_all[:batch]
        advantages, returns = compute_gae(
            buffer.rewards, values.reshape(n_steps, num_envs), buffer.terminated, buffer.done,
            buffer.final_values, values_all[batch:], algo.gamma, algo.gae_lambda)
        advantages, returns = advantages.reshape(-1), returns.reshape(-1)
        fallback = 0.0
        if algo.normalize_advantage:
            advantages, fallback = normalize_advantages_np(advantages)
        actions = buffer.actions.reshape(batch, *buffer.actions.shape[2:])
        log_prob, entropy, d_dist = net.log_prob_entropy_grads(
            dist_params[:batch], actions, advantages / batch, ent_coef / batch)
        errors = values - returns
        policy_loss = -float(np.dot(advantages, log_prob)) / batch
        value_loss = float(np.dot(errors, errors)) / batch
        entropy_mean = float(np.add.reduce(entropy)) / batch

        d_dist_all = np.zeros_like(dist_params)
        d_dist_all[:batch] = d_dist
        d_values = np.zeros_like(values_all)
        d_values[:batch] = (2.0 * algo.vf_coef / batch) * errors
        net.backward(d_dist_all, d_values)  # writes every parameter's .grad
        grad = self.flat_grad
        grad_norm = float(np.sqrt(np.dot(grad, grad)))
        if not math.isfinite(policy_loss + value_loss + entropy_mean + grad_norm):
            check_finite(np.isfinite([policy_loss, value_loss, entropy_mean, grad_norm]))
        grad *= min(algo.max_grad_norm / (grad_norm + 1e-6), 1.0)
        if self._numpy_step:
            numpy_step(self.optimizer)
        else:
            self.optimizer.step()

        var_returns = _sample_variance(returns)
        explained_var = 1.0 - _sample_variance(errors) / var_returns if var_returns > 0 else 0.0
        return UpdateStats(policy_loss, value_loss, entropy_mean, explained_var, grad_norm,
                           fallback)


def _sample_variance(x: np.ndarray) -> float:
    """``x.var(ddof=1)`` (0 for one element) without ndarray.var's Python-level overhead."""
    if len(x) < 2:
        return 0.0
    centred = x - np.add.reduce(x) / len(x)
    return float(np.dot(centred, centred)) / (len(x) - 1)
