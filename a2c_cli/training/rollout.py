"""Rollout storage and the return/advantage computation.

A rollout is ``n_steps`` x ``num_envs`` transitions held as preallocated tensors on the
learner's device. Step ``t`` of env ``i`` stores the observation the action was taken in,
the action, the (possibly scaled) reward, and how the step ended:

* ``terminated[t, i]``: the MDP ended (crash, landing): the target is ``r`` alone.
* ``done[t, i]``: the episode ended for any reason (terminated or truncated). GAE never
  propagates across such a step, because the next stored observation belongs to a new
  episode (SAME_STEP autoreset).
* ``final_values[t, i]``: for a time-limit truncation, ``V(s_final)`` of the true final
  observation, so that the target is ``r + gamma * V(s_final)``: the time limit is not part
  of the task, so the state still has a future (Pardo et al., 2018, "Time Limits in
  Reinforcement Learning"). Zero elsewhere.
"""

from __future__ import annotations

from typing import NamedTuple, Tuple, TypeVar

import numpy as np
import torch
from torch import Tensor


class Rollout(NamedTuple):
    """One rollout, shapes (T, N, ...)."""

    obs: Tensor
    actions: Tensor
    rewards: Tensor
    terminated: Tensor
    done: Tensor
    final_values: Tensor


class RolloutBuffer:
    """Preallocated (T, N, ...) arrays, filled one step at a time by the collector.

    They live on the host (pinned when the learner is on a GPU) and reach the learner's
    device once per rollout in :meth:`to_device`: on the CPU that is a zero-copy view, on
    a GPU one batched transfer instead of several small copies per environment step.
    """

    def __init__(self, n_steps: int, num_envs: int, obs_dim: int, action_shape: Tuple[int, ...],
                 discrete: bool, device: torch.device) -> None:
        self.device = device
        pin = device.type == "cuda"

        def host(shape: Tuple[int, ...], dtype: torch.dtype) -> np.ndarray:
            return torch.zeros(shape, dtype=dtype, pin_memory=pin).numpy()

        self.obs = host((n_steps, num_envs, obs_dim), torch.float32)
        self.actions = host((n_steps, num_envs, *action_shape),
                            torch.long if discrete else torch.float32)
        self.rewards = host((n_steps, num_envs), torch.float32)
        self.terminated = host((n_steps, num_envs), torch.float32)
        self.done = host((n_steps, num_envs), torch.float32)
        self.final_values = host((n_steps, num_envs), torch.float32)

    def to_device(self) -> Rollout:
        """The filled rollout as tensors on the learner's device."""
        def dev(a: np.ndarray) -> Tensor:
            return torch.from_numpy(a).to(self.device, non_blocking=True)

        return Rollout(dev(self.obs), dev(self.actions), dev(self.rewards),
                       dev(self.terminated), dev(self.done), dev(self.final_values))


Array = TypeVar("Array", np.ndarray, Tensor)


def compute_gae(
    rewards: Array,
    values: Array,
    terminated: Array,
    done: Array,
    final_values: Array,
    last_value: Array,
    gamma: float,
    gae_lambda: float,
) -> Tuple[Array, Array]:
    """Generalised advantage estimates and returns (Schulman et al., 2016).

    All inputs are (T, N) except ``last_value`` (N,), the value of the observation after
    the rollout's last step. For step t the one-step target is

        r_t + gamma * V_next_t,   V_next_t = (1 - terminated_t) * final_values_t  if done_t
                                           = values_{t+1} (last_value at t = T-1) otherwise

    and ``A_t = delta_t + gamma * lambda * (1 - done_t) * A_{t+1}``. With ``gae_lambda = 1``
    the returns are the plain n-step returns of A2C (Mnih et al., 2016), each bootstrapped
    from the last value of its own episode segment. Returns = advantages + values.

    Takes NumPy arrays or tensors (all of one kind) and returns the same kind: on the CPU
    the backward loop over T rows is far cheaper in NumPy than through torch's per-op
    dispatch; on a GPU, or inside a compiled graph, it stays in torch.
    """
    empty_like = torch.empty_like if isinstance(rewards, Tensor) else np.empty_like
    n_steps = rewards.shape[0]
    next_values = empty_like(values)
    next_values[:-1] = values[1:]
    next_values[-1] = last_value
    not_done = 1.0 - done
    next_values = next_values * not_done + final_values * (1.0 - terminated) * done
    deltas = rewards + gamma * next_values - values
    decay = (gamma * gae_lambda) * not_done
    advantages = empty_like(deltas)
    running = deltas[-1]
    advantages[-1] = running
    for t in range(n_steps - 2, -1, -1):
        running = deltas[t] + decay[t] * running
        advantages[t] = running
    return advantages, advantages + values
