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
    #: ``Discrete(n, start=k)`` actions: the policy's index i is the env's action k + i.
    action_start: int = 0

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
            return action + self.action_start if self.action_start else action
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


#: Observation spaces a flat vector encodes exactly (gymnasium's ``flatten``: one-hot for
#: ``Discrete``, honouring ``start``; one-hot per component for ``MultiDiscrete``).
FLAT_LEAVES = (gym.spaces.Discrete, gym.spaces.MultiDiscrete, gym.spaces.MultiBinary,
               gym.spaces.Box)


def needs_flattening(space: gym.Space) -> bool:
    """Whether observations of ``space`` reach the network as gymnasium's flattened vector:
    ``Discrete``/``MultiDiscrete``/``MultiBinary``, ``Box`` shapes other than vectors and
    images, and one level of ``Dict``/``Tuple`` of those. Anything else is refused here
    with one line (nested containers, ``Text``/``Graph``/``Sequence``, images in a
    container)."""
    if isinstance(space, gym.spaces.Box):
        return len(space.shape) not in (1, 3)
    if isinstance(space, FLAT_LEAVES):
        return True
    if isinstance(space, (gym.spaces.Dict, gym.spaces.Tuple)):
        entries = space.spaces.values() if isinstance(space, gym.spaces.Dict) else space.spaces
        for entry in entries:
            if isinstance(entry, (gym.spaces.Dict, gym.spaces.Tuple)):
                raise UnsupportedEnvError(
                    f"observation space {space} is not supported: a nested {type(entry).__name__} "
                    "inside it; flatten the inner one (gymnasium.wrappers.FlattenObservation, "
                    "or a wrapper of your own in env.wrappers).")
            if isinstance(entry, gym.spaces.Box) and len(entry.shape) == 3:
                raise UnsupportedEnvError(
                    f"observation space {space} is not supported yet: it holds an image "
                    f"{entry}; keep the image alone (e.g. MiniGrid's ImgObsWrapper in "
                    "env.wrappers) or flatten it (FlattenObservation).")
            if not isinstance(entry, FLAT_LEAVES):
                raise UnsupportedEnvError(
                    f"observation space {space} is not supported: its entry {entry} has no "
                    "fixed-size encoding; drop it with a wrapper in env.wrappers.")
        return True
    raise UnsupportedEnvError(
        f"observation space {space} is not supported: a2c-cli takes Box, Discrete, "
        "MultiDiscrete, MultiBinary and one level of Dict/Tuple of those; wrap other envs "
        "(env.wrappers).")


def describe_spaces(obs_space: gym.Space, action_space: gym.Space) -> EnvSpaces:
    """Check the single-env spaces are supported and summarise them."""
    obs = _observation(obs_space)
    if isinstance(action_space, gym.spaces.Discrete):
        return EnvSpaces(discrete=True, action_dim=int(action_space.n), action_low=None,
                         action_high=None, action_start=int(action_space.start), **obs)
    if isinstance(action_space, gym.spaces.Box) and len(action_space.shape) == 1:
        return EnvSpaces(discrete=False, action_dim=int(action_space.shape[0]),
                         action_low=action_space.low.astype(np.float32),
                         action_high=action_space.high.astype(np.float32), **obs)
    raise UnsupportedEnvError(
        f"action space {action_space} is not supported: a2c-cli handles Discrete and "
        "flat Box actions."
    )
