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
