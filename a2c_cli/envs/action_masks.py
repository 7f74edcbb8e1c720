"""``env.action_mask_key``: the legal actions an env reports in its info, given to the policy.

Envs such as gymnasium's Taxi put a 0/1 mask of the actions that can do something into
``info[key]`` at every reset and step. :class:`ActionMaskObservation` appends that mask to
the flat observation, so it travels through rollouts, every torch backend (the CUDA graphs
included) and checkpoints as observation columns, with nothing else to carry; the network
splits it off again (:class:`MaskedBox` tells it how many columns) and gives masked actions
a logit no sample or argmax picks and no log-probability or entropy counts (as
sb3-contrib's MaskablePPO does).
"""

from __future__ import annotations

from typing import Any, Optional

import gymnasium as gym
import numpy as np

from a2c_cli.errors import UnsupportedEnvError

#: The logit of a masked action: exp() of it is 0 in float32, and it stays finite, so the
#: entropy's p * log p is 0 rather than NaN.
MASKED_LOGIT = -1e8


class MaskedBox(gym.spaces.Box):
    """A flat float32 observation space whose last ``mask_dim`` entries are the action mask."""

    def __init__(self, low: np.ndarray, high: np.ndarray, mask_dim: int) -> None:
        super().__init__(low, high, dtype=np.float32)
        self.mask_dim = mask_dim


def mask_width(action_space: gym.Space) -> Optional[int]:
    """Entries of a mask over ``action_space``: its actions (Discrete) or all components'
    actions side by side (MultiDiscrete); None for spaces a mask cannot describe."""
    if isinstance(action_space, gym.spaces.Discrete):
        return int(action_space.n)
    if isinstance(action_space, gym.spaces.MultiDiscrete):
        return int(action_space.nvec.sum())
    return None


class ActionMaskObservation(gym.Wrapper):
    """Observations become ``[observation, info[key]]`` (float32), the mask last."""

    def __init__(self, env: gym.Env, key: str) -> None:
        super().__init__(env)
        width = mask_width(env.action_space)
        if width is None:
            raise UnsupportedEnvError(
                f"env.action_mask_key={key!r} needs Discrete or MultiDiscrete actions, and "
                f"this env's are {env.action_space}; drop env.action_mask_key.")
        space = env.observation_space
        if not (isinstance(space, gym.spaces.Box) and len(space.shape) == 1):
            raise UnsupportedEnvError(
                f"env.action_mask_key={key!r} needs vector observations, and this env's are "
                f"{space}; drop env.action_mask_key (or flatten the observations).")
        self.key, self.width = key, width
        low = np.concatenate([space.low.astype(np.float32), np.zeros(width, np.float32)])
        high = np.concatenate([space.high.astype(np.float32), np.ones(width, np.float32)])
        self.observation_space = MaskedBox(low, high, width)

    def _with_mask(self, obs: Any, info: dict) -> np.ndarray:
        if self.key not in info:
            raise UnsupportedEnvError(
                f"env.action_mask_key={self.key!r}: the env's info has no {self.key!r} entry "
                f"(it has {sorted(info) or 'none'}); give the key the env uses, or drop "
                "env.action_mask_key.")
        mask = np.asarray(info[self.key], dtype=np.float32).reshape(-1)
        if mask.shape != (self.width,):
            raise UnsupportedEnvError(
                f"env.action_mask_key={self.key!r}: info[{self.key!r}] has {mask.size} "
                f"entries, and the action space {self.env.action_space} needs {self.width}.")
        return np.concatenate([np.asarray(obs, dtype=np.float32).reshape(-1), mask])

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
        obs, info = self.env.reset(seed=seed, options=options)
        return self._with_mask(obs, info), info

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self._with_mask(obs, info), reward, terminated, truncated, info
