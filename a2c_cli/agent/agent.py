"""The agent: what acts in an environment, for training, evaluation, videos and a2c-eval.

One object instead of its parts passed around separately: the network, the observation
normaliser, the action mapping (the env's action bounds), the device, and the sampling
backend that computes training-time actions and values (eager torch, compiled torch or
NumPy; see :mod:`a2c_cli.training.backends`).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Optional, Protocol, Tuple

import numpy as np
import torch

from a2c_cli.agent.networks import ActorCritic
from a2c_cli.agent.normalization import ObsNormalizer
from a2c_cli.envs.spaces import EnvSpaces


class RolloutSlots(Protocol):
    """Where a sampler reads a step's observations and stores its actions (the training
    layer's :class:`~a2c_cli.training.rollout.RolloutBuffer`)."""

    obs: np.ndarray
    actions: np.ndarray

    def obs_on_device(self, t: int, envs: slice) -> torch.Tensor: ...

    def actions_on_device(self, t: int, envs: slice) -> torch.Tensor: ...

    def actions_to_host(self, t: int, envs: slice) -> np.ndarray: ...


class Sampler(Protocol):
    """Training-time acting on normalised observations."""

    def sample(self, obs: np.ndarray) -> np.ndarray:
        """Sampled actions, unclipped (what is stored and scored); host arrays."""
        ...

    def begin_step(self, buffer: RolloutSlots, t: int, envs: slice) -> None:
        """Start sampling actions for rollout step ``t`` of ``envs`` from the observations
        already in ``buffer``; a GPU sampler returns at once, leaving the work queued."""
        ...

    def end_step(self, buffer: RolloutSlots, t: int, envs: slice) -> np.ndarray:
        """The actions :meth:`begin_step` sampled, stored in ``buffer``, as host memory."""
        ...

    def values(self, obs: np.ndarray) -> np.ndarray:
        """V(obs), shape (batch,)."""
        ...


class EagerSampler:
    """:class:`Sampler` running the torch network eagerly (any device)."""

    def __init__(self, network: ActorCritic, device: torch.device) -> None:
        self.network, self.device = network, device

    def _tensor(self, obs: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(obs).to(self.device, non_blocking=True)

    def _act(self, obs: torch.Tensor) -> torch.Tensor:
        return self.network.act(obs)

    def sample(self, obs: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return self._act(self._tensor(obs)).cpu().numpy()

    def begin_step(self, buffer: RolloutSlots, t: int, envs: slice) -> None:
        with torch.no_grad():
            buffer.actions_on_device(t, envs).copy_(self._act(buffer.obs_on_device(t, envs)))

    def end_step(self, buffer: RolloutSlots, t: int, envs: slice) -> np.ndarray:
        return buffer.actions_to_host(t, envs)

    def values(self, obs: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return self.network.get_value(self._tensor(obs)).cpu().numpy()


@dataclass
class Agent:
    """The policy as the rest of a2c-cli sees it: raw observations in, env actions out."""

    network: ActorCritic
    obs_norm: ObsNormalizer
    spaces: EnvSpaces
    device: torch.device
    #: Training-time acting; None = eager torch.
    sampler: Optional[Sampler] = None
    #: Deterministic continuous actions: ``clipped_mean`` (the Gaussian's mean, clipped to
    #: the bounds) or ``mean_of_clipped`` (the mean of the clipped action the env receives
    #: when the policy samples); one of :data:`a2c_cli.config.DETERMINISTIC_ACTIONS`.
    deterministic_action: str = "clipped_mean"

    def __post_init__(self) -> None:
        if self.sampler is None:
            self.sampler = EagerSampler(self.network, self.device)
        self._bounds: Optional[Tuple[torch.Tensor, torch.Tensor]] = None
        if not self.spaces.discrete and self.deterministic_action == "mean_of_clipped":
            self._bounds = (self._on_device(self.spaces.action_low),
                            self._on_device(self.spaces.action_high))

    def _on_device(self, bound: Optional[np.ndarray]) -> torch.Tensor:
        return torch.as_tensor(np.asarray(bound, np.float32), device=self.device)

    def normalize(self, raw_obs: np.ndarray) -> np.ndarray:
        """Raw observations normalised with the current statistics (left unchanged)."""
        return self.obs_norm.normalize(raw_obs)

    def observe(self, raw_obs: np.ndarray) -> np.ndarray:
        """Fold training observations into the running statistics and normalise them."""
        self.obs_norm.update(raw_obs)
        return self.obs_norm.normalize(raw_obs)

    def sample(self, obs: np.ndarray) -> np.ndarray:
        """Training actions (unclipped samples) for normalised observations."""
        assert self.sampler is not None
        return self.sampler.sample(obs)

    def reset_noise(self, num_envs: int) -> None:
        """New exploration noise at the start of a rollout (gSDE's matrices; nothing for
        noise drawn per step)."""
        self.network.dist.reset_noise(num_envs)

    def begin_step(self, buffer: RolloutSlots, t: int, envs: slice) -> None:
        """Start sampling training actions for rollout step ``t`` of ``envs`` (observations
        already in ``buffer``); :meth:`end_step` returns them. Work between the two calls
        overlaps a GPU's."""
        assert self.sampler is not None
        self.sampler.begin_step(buffer, t, envs)

    def end_step(self, buffer: RolloutSlots, t: int, envs: slice) -> np.ndarray:
        """The training actions of :meth:`begin_step`, stored in ``buffer``."""
        assert self.sampler is not None
        return self.sampler.end_step(buffer, t, envs)

    def values(self, raw_obs: np.ndarray) -> np.ndarray:
        """V of raw observations (normalised with the current, unchanged statistics)."""
        assert self.sampler is not None
        return self.sampler.values(self.normalize(raw_obs))

    def env_action(self, action: np.ndarray) -> np.ndarray:
        """What the env receives: continuous actions clipped to its bounds."""
        return self.spaces.env_action(action)

    @contextmanager
    def frozen(self) -> Iterator[Agent]:
        """Evaluation mode (no dropout) for the duration; training mode after."""
        was_training = self.network.training
        self.network.eval()
        try:
            yield self
        finally:
            self.network.train(was_training)

    def act(self, raw_obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """Env actions for raw observations with frozen statistics: evaluation, videos,
        a2c-eval. Always the eager torch network, so a checkpoint scores the same whatever
        backend trained it, and a2c-eval replays a run's own final evaluation."""
        with torch.inference_mode():
            obs = torch.from_numpy(self.obs_norm.normalize(raw_obs)).to(self.device)
            if deterministic and self._bounds is not None:
                action = self.network.mean_of_clipped_action(obs, *self._bounds)
            else:
                action = self.network.act(obs, deterministic=deterministic)
        return self.spaces.env_action(action.cpu().numpy())
