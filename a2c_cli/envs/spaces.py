"""What the agent needs to know about an environment's spaces, checked once."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Tuple

import gymnasium as gym
import numpy as np

from a2c_cli.errors import UnsupportedEnvError


@dataclass(frozen=True)
class EnvSpaces:
    """What the learner needs to know about an environment."""

    obs_dim: int
    discrete: bool
    #: Number of discrete actions, or the dimension of a continuous action.
    action_dim: int
    action_low: Optional[np.ndarray]
    action_high: Optional[np.ndarray]
    #: The single-env observation shape: (obs_dim,) for vectors, (H, W, C) or (C, H, W)
    #: for images.
    obs_shape: Tuple[int, ...] = ()
    #: Image observations: scaled by ``1 / pixel_high`` in the network.
    image: bool = False
    channels_first: bool = False
    pixel_high: float = 255.0
    #: What the rollout stores observations as: uint8 for byte or bool pixels (one byte
    #: each), float32 otherwise (vectors, float images).
    obs_dtype: type = np.float32

    def __post_init__(self) -> None:
        if not self.obs_shape:
            object.__setattr__(self, "obs_shape", (self.obs_dim,))

    @property
    def image_chw(self) -> Tuple[int, int, int]:
        """The image shape as (channels, height, width)."""
        shape = self.obs_shape
        return shape if self.channels_first else (shape[2], shape[0], shape[1])  # type: ignore

    def env_action(self, action: np.ndarray) -> np.ndarray:
        """What is sent to the env: continuous actions clipped to the bounds (the policy's
        unclipped sample is what gets stored and scored)."""
        if self.discrete:
            return action
        return np.clip(action, self.action_low, self.action_high)


def channels_first(shape: Tuple[int, ...]) -> bool:
    """Whether an image shape is (C, H, W): a leading axis smaller than both others, as
    frame stacks give (4, 84, 84). Otherwise (H, W, C), gymnasium's convention for images
    (Atari's (210, 160, 3), MinAtar's (10, 10, n) even when n = 10)."""
    return shape[0] < shape[1] and shape[0] < shape[2]


def _observation(obs_space: gym.Space) -> dict:
    """EnvSpaces' observation fields for a supported observation space."""
    if isinstance(obs_space, gym.spaces.Box) and len(obs_space.shape) == 1:
        return {"obs_dim": int(obs_space.shape[0])}
    if isinstance(obs_space, gym.spaces.Box) and len(obs_space.shape) == 3:
        high = float(np.max(obs_space.high))
        if obs_space.dtype not in (np.uint8, np.bool_) and not high <= 255:
            raise UnsupportedEnvError(
                f"image observation space {obs_space} is not supported: a2c-cli reads images "
                "of uint8 or bool pixels, or floats within [0, 255].")
        shape = tuple(int(s) for s in obs_space.shape)
        as_bytes = obs_space.dtype in (np.uint8, np.bool_)
        return {"obs_dim": math.prod(shape), "obs_shape": shape, "image": True,
                "channels_first": channels_first(shape), "pixel_high": max(high, 1.0),
                "obs_dtype": np.uint8 if as_bytes else np.float32}
    raise UnsupportedEnvError(
        f"observation space {obs_space} is not supported: a2c-cli needs a flat Box (vectors) "
        "or a 3-d Box (images, (H, W, C) or (C, H, W)); wrap other envs, e.g. with "
        "FlattenObservation."
    )


def describe_spaces(obs_space: gym.Space, action_space: gym.Space) -> EnvSpaces:
    """Check the single-env spaces are supported and summarise them."""
    obs = _observation(obs_space)
    if isinstance(action_space, gym.spaces.Discrete):
        return EnvSpaces(discrete=True, action_dim=int(action_space.n), action_low=None,
                         action_high=None, **obs)
    if isinstance(action_space, gym.spaces.Box) and len(action_space.shape) == 1:
        return EnvSpaces(discrete=False, action_dim=int(action_space.shape[0]),
                         action_low=action_space.low.astype(np.float32),
                         action_high=action_space.high.astype(np.float32), **obs)
    raise UnsupportedEnvError(
        f"action space {action_space} is not supported: a2c-cli handles Discrete and "
        "flat Box actions."
    )
