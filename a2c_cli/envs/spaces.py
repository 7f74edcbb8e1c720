"""What the agent needs to know about an environment's spaces, checked once."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional, Tuple, Union

import gymnasium as gym
import numpy as np

from a2c_cli.envs.action_masks import MaskedBox
from a2c_cli.envs.packing import (
    PackedBox,
    PackedLayout,
    PackObservation,
    channels_first,
    entries_of,
    image_entry_fields,
    is_image,
)
from a2c_cli.errors import UnsupportedEnvError


@dataclass(frozen=True)
class EnvSpaces:
    """What the learner needs to know about an environment."""

    obs_dim: int
    #: Actions other than a ``Box``: Discrete, MultiDiscrete, MultiBinary.
    discrete: bool
    #: The policy head's width: the number of Discrete actions, the sum of a MultiDiscrete's
    #: ``nvec``, a MultiBinary's bits, or a Box's size.
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
    #: ``Discrete(n, start=k)`` actions: the policy's index i is the env's action k + i
    #: (an array of per-component starts for ``MultiDiscrete``).
    action_start: Union[int, np.ndarray] = 0
    #: ``MultiDiscrete`` actions: the components' sizes, flattened (empty otherwise).
    action_nvec: Tuple[int, ...] = ()
    #: ``MultiBinary`` actions.
    action_bits: bool = False
    #: The env's action shape where it is not the policy's flat one (a Box, MultiDiscrete
    #: or MultiBinary of more than one axis); () = as sampled.
    action_env_shape: Tuple[int, ...] = ()
    #: A Dict/Tuple holding images, stored as packed byte rows (:mod:`a2c_cli.envs.packing`).
    layout: Optional[PackedLayout] = None
    #: ``env.action_mask_key``: the observation's last columns are the legal-action mask
    #: (:mod:`a2c_cli.envs.action_masks`), one per logit; 0 = no mask.
    action_mask_dim: int = 0

    @property
    def feature_dim(self) -> int:
        """The observation's width without the action mask: what the network encodes."""
        return self.obs_dim - self.action_mask_dim

    def __post_init__(self) -> None:
        if not self.obs_shape:
            object.__setattr__(self, "obs_shape", (self.obs_dim,))

    @property
    def action_kind(self) -> str:
        """discrete, multi_discrete, multi_binary or box."""
        if not self.discrete:
            return "box"
        return "multi_discrete" if self.action_nvec else (
            "multi_binary" if self.action_bits else "discrete")

    @property
    def action_shape(self) -> Tuple[int, ...]:
        """One env's action as the rollout stores it: () for Discrete, else a flat vector."""
        if self.action_kind == "discrete":
            return ()
        return (len(self.action_nvec),) if self.action_nvec else (self.action_dim,)

    @property
    def image_chw(self) -> Tuple[int, int, int]:
        """The image shape as (channels, height, width)."""
        shape = self.obs_shape
        return shape if self.channels_first else (shape[2], shape[0], shape[1])  # type: ignore

    def env_action(self, action: np.ndarray) -> np.ndarray:
        """What is sent to the env: continuous actions clipped to the bounds (the policy's
        unclipped sample is what gets stored and scored)."""
        if self.discrete:
            if self.action_bits:
                action = action.astype(np.int8)
            elif np.any(self.action_start):
                action = action + self.action_start
        else:
            action = np.clip(action, self.action_low, self.action_high)
        if self.action_env_shape:
            action = action.reshape(len(action), *self.action_env_shape)
        return action


def _observation(obs_space: gym.Space) -> dict:
    """EnvSpaces' observation fields for a supported observation space."""
    if isinstance(obs_space, PackedBox):
        layout = obs_space.layout
        return {"obs_dim": layout.row_bytes, "obs_dtype": np.uint8, "layout": layout}
    if isinstance(obs_space, MaskedBox):
        return {"obs_dim": int(obs_space.shape[0]), "action_mask_dim": obs_space.mask_dim}
    if isinstance(obs_space, gym.spaces.Box) and len(obs_space.shape) == 1:
        return {"obs_dim": int(obs_space.shape[0])}
    if is_image(obs_space):
        floats, high = image_entry_fields(obs_space)
        shape = tuple(int(s) for s in obs_space.shape)
        return {"obs_dim": math.prod(shape), "obs_shape": shape, "image": True,
                "channels_first": channels_first(shape), "pixel_high": high,
                "obs_dtype": np.float32 if floats else np.uint8}
    raise UnsupportedEnvError(
        f"observation space {obs_space} is not supported: a2c-cli needs a flat Box (vectors) "
        "or a 3-d Box (images, (H, W, C) or (C, H, W)); wrap other envs, e.g. with "
        "FlattenObservation."
    )


#: Observation spaces a flat vector encodes exactly (gymnasium's ``flatten``: one-hot for
#: ``Discrete``, honouring ``start``; one-hot per component for ``MultiDiscrete``).
FLAT_LEAVES = (gym.spaces.Discrete, gym.spaces.MultiDiscrete, gym.spaces.MultiBinary,
               gym.spaces.Box)


def observation_wrapper(space: gym.Space) -> Optional[Callable[[gym.Env], gym.Env]]:
    """How observations of ``space`` reach the network: as they are (None: vectors and
    images), as gymnasium's flattened vector (``FlattenObservation``: ``Discrete`` one-hot,
    ``MultiDiscrete``/``MultiBinary``, other ``Box`` shapes, one level of ``Dict``/``Tuple``
    of those), or as packed rows (:class:`~a2c_cli.envs.packing.PackObservation`: a
    ``Dict``/``Tuple`` that holds images). Anything else is refused with one line (nested
    containers, ``Text``/``Graph``/``Sequence``)."""
    if isinstance(space, gym.spaces.Box):
        return None if len(space.shape) in (1, 3) else gym.wrappers.FlattenObservation
    if isinstance(space, FLAT_LEAVES):
        return gym.wrappers.FlattenObservation
    if isinstance(space, (gym.spaces.Dict, gym.spaces.Tuple)):
        images = False
        for _, entry in entries_of(space):
            if isinstance(entry, (gym.spaces.Dict, gym.spaces.Tuple)):
                raise UnsupportedEnvError(
                    f"observation space {space} is not supported: a nested {type(entry).__name__} "
                    "inside it; flatten the inner one (gymnasium.wrappers.FlattenObservation, "
                    "or a wrapper of your own in env.wrappers).")
            if not isinstance(entry, FLAT_LEAVES):
                raise UnsupportedEnvError(
                    f"observation space {space} is not supported: its entry {entry} has no "
                    "fixed-size encoding; drop it with a wrapper in env.wrappers (e.g. "
                    "gymnasium.wrappers.FilterObservation with the keys to keep).")
            if is_image(entry):
                image_entry_fields(entry)  # refuses what cannot be read as an image
                images = True
        return PackObservation if images else gym.wrappers.FlattenObservation
    raise UnsupportedEnvError(
        f"observation space {space} is not supported: a2c-cli takes Box, Discrete, "
        "MultiDiscrete, MultiBinary and one level of Dict/Tuple of those; wrap other envs "
        "(env.wrappers).")


def describe_spaces(obs_space: gym.Space, action_space: gym.Space) -> EnvSpaces:
    """Check the single-env spaces are supported and summarise them."""
    obs = _observation(obs_space)
    spaces = gym.spaces
    if isinstance(action_space, spaces.Discrete):
        return EnvSpaces(discrete=True, action_dim=int(action_space.n), action_low=None,
                         action_high=None, action_start=int(action_space.start), **obs)
    shape = tuple(int(s) for s in getattr(action_space, "shape", None) or ())
    env_shape = shape if len(shape) > 1 else ()
    if isinstance(action_space, spaces.MultiDiscrete):
        nvec = tuple(int(n) for n in action_space.nvec.reshape(-1))
        start = np.asarray(getattr(action_space, "start", 0)).reshape(-1).astype(np.int64)
        return EnvSpaces(discrete=True, action_dim=sum(nvec), action_low=None,
                         action_high=None, action_nvec=nvec, action_env_shape=env_shape,
                         action_start=start if start.any() else 0, **obs)
    if isinstance(action_space, spaces.MultiBinary):
        return EnvSpaces(discrete=True, action_dim=math.prod(shape), action_low=None,
                         action_high=None, action_bits=True, action_env_shape=env_shape,
                         **obs)
    if isinstance(action_space, spaces.Box) and shape:
        return EnvSpaces(discrete=False, action_dim=math.prod(shape),
                         action_low=action_space.low.reshape(-1).astype(np.float32),
                         action_high=action_space.high.reshape(-1).astype(np.float32),
                         action_env_shape=env_shape, **obs)
    raise UnsupportedEnvError(
        f"action space {action_space} is not supported: a2c-cli handles Discrete, "
        "MultiDiscrete, MultiBinary and Box actions; wrap other envs (env.wrappers).")
