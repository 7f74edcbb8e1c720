"""What the agent needs to know about an environment's spaces, checked once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

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

    def env_action(self, action: np.ndarray) -> np.ndarray:
        """What is sent to the env: continuous actions clipped to the bounds (the policy's
        unclipped sample is what gets stored and scored)."""
        if self.discrete:
            return action
        return np.clip(action, self.action_low, self.action_high)


def describe_spaces(obs_space: gym.Space, action_space: gym.Space) -> EnvSpaces:
    """Check the single-env spaces are supported and summarise them."""
    if not isinstance(obs_space, gym.spaces.Box) or len(obs_space.shape) != 1:
        raise UnsupportedEnvError(
            f"observation space {obs_space} is not supported: a2c-cli needs a flat Box "
            "observation (wrap the env, e.g. FlattenObservation)."
        )
    if isinstance(action_space, gym.spaces.Discrete):
        return EnvSpaces(int(obs_space.shape[0]), True, int(action_space.n), None, None)
    if isinstance(action_space, gym.spaces.Box) and len(action_space.shape) == 1:
        return EnvSpaces(
            int(obs_space.shape[0]),
            False,
            int(action_space.shape[0]),
            action_space.low.astype(np.float32),
            action_space.high.astype(np.float32),
        )
    raise UnsupportedEnvError(
        f"action space {action_space} is not supported: a2c-cli handles Discrete and "
        "flat Box actions."
    )
