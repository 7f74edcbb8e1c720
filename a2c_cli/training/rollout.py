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

from typing import NamedTuple, Tuple, TypeVar, Union

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

    The host arrays (pinned when the learner is on a GPU) are what the collector and the
    CPU backends read and write. For a GPU learner the rollout also lives on the device:
    each env step sends its observations there once (:meth:`obs_on_device`, from the
    pinned buffer) and brings the sampled actions back once (:meth:`actions_to_host`);
    the per-step scalars (rewards and flags) travel in one batched copy per update
    (:meth:`to_device`). On the CPU :meth:`to_device` is a zero-copy view.
    """

    def __init__(self, n_steps: int, num_envs: int, obs_shape: Union[int, Tuple[int, ...]],
                 action_shape: Tuple[int, ...], discrete: bool, device: torch.device,
                 obs_dtype: type = np.float32) -> None:
        """``obs_shape``: one env's observation shape (an int for vectors); ``obs_dtype``:
        np.float32, or np.uint8 for byte pixels (a quarter of float32's memory)."""
        self.device = device
        self.on_device = device.type != "cpu"
        pin = device.type == "cuda"
        action_dtype = torch.long if discrete else torch.float32
        single = (obs_shape,) if isinstance(obs_shape, int) else tuple(obs_shape)
        obs_torch_dtype = torch.from_numpy(np.zeros(0, obs_dtype)).dtype
        obs_shape = (n_steps, num_envs, *single)
        action_shape = (n_steps, num_envs, *action_shape)
        # Host tensors; the NumPy arrays below are views of the same memory.
        self._host_obs = torch.zeros(obs_shape, dtype=obs_torch_dtype, pin_memory=pin)
        self._host_actions = torch.zeros(action_shape, dtype=action_dtype, pin_memory=pin)
        #: rewards, terminated, done, final_values: one array so one copy moves them.
        self._host_scalars = torch.zeros((4, n_steps, num_envs), dtype=torch.float32,
                                         pin_memory=pin)
        self.obs = self._host_obs.numpy()
        self.actions = self._host_actions.numpy()
        self.rewards, self.terminated, self.done, self.final_values = self._host_scalars.numpy()
        if self.on_device:
            self.device_obs = torch.zeros(obs_shape, dtype=obs_torch_dtype, device=device)
            self.device_actions = torch.zeros(action_shape, dtype=action_dtype, device=device)
            self.device_scalars = torch.zeros((4, n_steps, num_envs), device=device)

    def obs_on_device(self, t: int, envs: slice) -> Tensor:
        """Step ``t``'s observations of ``envs`` (already written to :attr:`obs`) on the
        learner's device: on a GPU one asynchronous copy into the device rollout."""
        if not self.on_device:
            return self._host_obs[t, envs]
        target = self.device_obs[t, envs]
        target.copy_(self._host_obs[t, envs], non_blocking=True)
        return target

    def actions_on_device(self, t: int, envs: slice) -> Tensor:
        """Where step ``t``'s sampled actions of ``envs`` go on the learner's device (on the
        CPU: the host array's memory)."""
        if not self.on_device:
            return self._host_actions[t, envs]
        return self.device_actions[t, envs]

    def actions_to_host(self, t: int, envs: slice) -> np.ndarray:
        """Step ``t``'s sampled actions of ``envs`` as host memory: on a GPU one copy back
        from the device rollout, and the wait for it, the step's only wait."""
        if self.on_device:
            self._host_actions[t, envs].copy_(self.device_actions[t, envs], non_blocking=True)
            torch.cuda.current_stream(self.device).synchronize()
        return self.actions[t, envs]

    def upload(self) -> None:
        """Copy host observations and actions to the device rollout (for rollouts filled
        on the host directly, e.g. in tests); the collector's steps do this as they go."""
        if self.on_device:
            self.device_obs.copy_(self._host_obs)
            self.device_actions.copy_(self._host_actions)

    def to_device(self) -> Rollout:
        """The filled rollout as tensors on the learner's device."""
        if not self.on_device:
            return Rollout(self._host_obs, self._host_actions, *self._host_scalars)
        self.device_scalars.copy_(self._host_scalars, non_blocking=True)
        return Rollout(self.device_obs, self.device_actions, *self.device_scalars)


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
