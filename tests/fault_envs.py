"""Environments for fault tests and odd settings (``env.id=tests.fault_envs:...``)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control import CartPoleEnv


class NanAfter(CartPoleEnv):
    """CartPole whose observations turn NaN after ``nan_after`` steps of this instance."""

    def __init__(self, nan_after: int = 500, **kwargs) -> None:
        super().__init__(**kwargs)
        self.nan_after = nan_after
        self.steps = 0

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        self.steps += 1
        if self.steps > self.nan_after:
            obs = np.full_like(obs, np.nan)
        return obs, reward, terminated, truncated, info


if "NanAfter-v0" not in gym.registry:
    gym.register("NanAfter-v0", entry_point=NanAfter, max_episode_steps=500)

# CartPole under a 40+ character id, for checks that long settings are shown in full.
if "CartPoleWithAVeryLongName-v1" not in gym.registry:
    gym.register("CartPoleWithAVeryLongName-v1", entry_point=CartPoleEnv, max_episode_steps=500)


class ShiftedSpaces(gym.Env):
    """Discrete(4, start=2) observations and Discrete(3, start=-1) actions: the action -1
    moves the state down, +1 up (within 2..5); reaching 5 pays 1. An action outside the
    space raises, so a policy index sent without its start fails."""

    observation_space = gym.spaces.Discrete(4, start=2)
    action_space = gym.spaces.Discrete(3, start=-1)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.state = 2
        return self.state, {}

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is outside {self.action_space}")
        self.state = int(np.clip(self.state + int(action), 2, 5))
        done = self.state == 5
        return self.state, float(done), done, False, {}


if "ShiftedSpaces-v0" not in gym.registry:
    gym.register("ShiftedSpaces-v0", entry_point=ShiftedSpaces, max_episode_steps=20)


class NestedDictObs(ShiftedSpaces):
    """A Dict inside a Dict: refused at start."""

    observation_space = gym.spaces.Dict({"outer": gym.spaces.Dict({"x": gym.spaces.Discrete(2)})})


if "NestedDictObs-v0" not in gym.registry:
    gym.register("NestedDictObs-v0", entry_point=NestedDictObs, max_episode_steps=20)
