"""Acting with a trained policy: deterministic evaluation on separate env instances."""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch

from a2c_cli.envs import EnvSpaces
from a2c_cli.networks import ActorCritic
from a2c_cli.normalization import ObsNormalizer


@dataclass
class Policy:
    """A network with its observation statistics (frozen) and action bounds."""

    network: ActorCritic
    spaces: EnvSpaces
    obs_norm: ObsNormalizer
    device: torch.device

    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """Env actions for a batch of raw observations (clipped to the action bounds)."""
        with torch.inference_mode():
            obs_t = torch.from_numpy(self.obs_norm.normalize(obs)).to(self.device)
            action = self.network.act(obs_t, deterministic=deterministic).cpu().numpy()
        return self.spaces.env_action(action)


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


def evaluate(policy: Policy, envs: gym.vector.VectorEnv, episodes: int, seed: int,
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
    was_training = policy.network.training
    policy.network.eval()
    try:
        while (counts < targets).any():
            obs, reward, terminated, truncated, _ = envs.step(policy.act(obs, deterministic))
            running_return += reward
            running_length += 1
            for i in np.flatnonzero(terminated | truncated):
                if counts[i] < targets[i]:
                    returns.append(float(running_return[i]))
                    lengths.append(int(running_length[i]))
                    counts[i] += 1
                running_return[i] = 0.0
                running_length[i] = 0
    finally:
        policy.network.train(was_training)
    return EvalResult(np.array(returns), np.array(lengths))
