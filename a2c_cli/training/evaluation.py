"""Deterministic evaluation of an agent on separate env instances."""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from a2c_cli.agent.agent import Agent


@dataclass(frozen=True)
class EvalResult:
    returns: np.ndarray
    lengths: np.ndarray

    @property
    def mean(self) -> float:
        return float(self.returns.mean())

    @property
    def std(self) -> float:
        return float(self.returns.std())


def episode_targets(episodes: int, num_envs: int) -> np.ndarray:
    """How many episodes each env runs. Fixing the counts up front avoids the bias of
    "first N episodes to finish", which over-samples short episodes."""
    return np.array([(episodes + i) // num_envs for i in range(num_envs)], dtype=np.int64)


def evaluate(agent: Agent, envs: gym.vector.VectorEnv, episodes: int, seed: int,
             deterministic: bool = True) -> EvalResult:
    """Run ``episodes`` full episodes and return their undiscounted returns and lengths.

    The env is reset with ``seed`` (env i: seed + i), so repeated evaluations of the same
    policy see the same episodes. Observation statistics are used, never updated.
    """
    targets = episode_targets(episodes, envs.num_envs)
    counts = np.zeros_like(targets)
    running_return = np.zeros(envs.num_envs)
    running_length = np.zeros(envs.num_envs, np.int64)
    returns: list[float] = []
    lengths: list[int] = []
    obs, _ = envs.reset(seed=[seed + i for i in range(envs.num_envs)])
    with agent.frozen():
        while (counts < targets).any():
            obs, reward, terminated, truncated, _ = envs.step(agent.act(obs, deterministic))
            running_return += reward
            running_length += 1
            for i in np.flatnonzero(terminated | truncated):
                if counts[i] < targets[i]:
                    returns.append(float(running_return[i]))
                    lengths.append(int(running_length[i]))
                    counts[i] += 1
                running_return[i] = 0.0
                running_length[i] = 0
    return EvalResult(np.array(returns), np.array(lengths))
