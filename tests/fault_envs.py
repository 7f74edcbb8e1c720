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


class MatchBits(gym.Env):
    """MultiBinary(4) observations (a target pattern, new each step) and MultiBinary(4)
    actions; each step pays the fraction of bits matched (random play: 0.5, best: 1)."""

    observation_space = gym.spaces.MultiBinary(4)
    action_space = gym.spaces.MultiBinary(4)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.target = self.np_random.integers(0, 2, 4, dtype=np.int8)
        return self.target.copy(), {}

    def step(self, action):
        if not self.action_space.contains(np.asarray(action)):
            raise ValueError(f"action {action!r} is outside {self.action_space}")
        reward = float(np.mean(np.asarray(action) == self.target))
        self.target = self.np_random.integers(0, 2, 4, dtype=np.int8)
        return self.target.copy(), reward, False, False, {}


class MatchComponents(gym.Env):
    """MultiDiscrete([3, 4]) observations (a target) and MultiDiscrete([3, 4], start=[-1, 2])
    actions: each step pays half a point per component equal to target + start (random:
    0.29, best: 1). An action outside the space raises."""

    observation_space = gym.spaces.MultiDiscrete([3, 4])
    action_space = gym.spaces.MultiDiscrete([3, 4], start=[-1, 2])

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.target = self.observation_space.sample()
        self.observation_space.seed(int(self.np_random.integers(2**31)))
        return self.target.copy(), {}

    def step(self, action):
        if not self.action_space.contains(np.asarray(action)):
            raise ValueError(f"action {action!r} is outside {self.action_space}")
        reward = 0.5 * float(np.sum(np.asarray(action) == self.target + self.action_space.start))
        self.target = self.observation_space.sample()
        return self.target.copy(), reward, False, False, {}


class ImageAndVector(gym.Env):
    """Dict of an 8x8 uint8 image (one bright pixel, left or right half) and a 2-vector;
    the right action (of 2) is the pixel's half XOR the sign of the vector's first entry, so
    only a policy that reads both entries beats 0.5 per step."""

    observation_space = gym.spaces.Dict({
        "image": gym.spaces.Box(0, 255, (8, 8, 1), np.uint8),
        "vector": gym.spaces.Box(-1.0, 1.0, (2,), np.float32)})
    action_space = gym.spaces.Discrete(2)
    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, render_mode=None):
        self.render_mode = render_mode

    def _draw(self):
        self.side = int(self.np_random.integers(2))
        self.sign = int(self.np_random.integers(2))
        image = np.zeros((8, 8, 1), np.uint8)
        image[self.np_random.integers(8), 4 * self.side + self.np_random.integers(4), 0] = 255
        vector = np.array([1.0 if self.sign else -1.0, self.np_random.uniform(-1, 1)],
                          np.float32)
        self.image = image
        return {"image": image, "vector": vector}

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        return self._draw(), {}

    def step(self, action):
        reward = float(int(action) == self.side ^ self.sign)
        return self._draw(), reward, False, False, {}

    def render(self):
        return np.repeat(self.image, 3, axis=-1)


class LegalMoves(gym.Env):
    """Discrete(6) states and actions; in state s only actions s and s + 3 (mod 6) are
    legal, reported as a 0/1 mask in ``info["legal"]``, and action s pays 1. An illegal
    action raises, so a policy that ignores the mask fails at once (4 actions in 6 are
    illegal); one that reads it scores 8 of 16 at random and 16 once it learned."""

    observation_space = gym.spaces.Discrete(6)
    action_space = gym.spaces.Discrete(6)

    def _info(self) -> dict:
        legal = np.zeros(6, np.int8)
        legal[[self.state, (self.state + 3) % 6]] = 1
        return {"legal": legal}

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.state = int(self.np_random.integers(6))
        return self.state, self._info()

    def step(self, action):
        action = int(action)
        if action not in (self.state, (self.state + 3) % 6):
            raise ValueError(f"illegal action {action} in state {self.state}")
        reward = float(action == self.state)
        self.state = int(self.np_random.integers(6))
        return self.state, reward, False, False, self._info()


for _name, _entry in (("MatchBits-v0", MatchBits), ("MatchComponents-v0", MatchComponents),
                      ("ImageAndVector-v0", ImageAndVector), ("LegalMoves-v0", LegalMoves)):
    if _name not in gym.registry:
        gym.register(_name, entry_point=_entry, max_episode_steps=16)
