"""Collecting rollouts: stepping the vector env with the current policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from a2c_cli.envs import EnvSpaces
from a2c_cli.networks import ActorCritic
from a2c_cli.normalization import ObsNormalizer, RewardScaler
from a2c_cli.numpy_mlp import NumpyActorCritic
from a2c_cli.rollout import RolloutBuffer


@dataclass
class FinishedEpisodes:
    """Episodes that ended during a rollout: undiscounted raw returns, lengths, and the
    env step at which each ended (env i's step within a vector step counts as the i-th of
    its ``num_envs`` env steps, so every episode has its own step)."""

    returns: List[float] = field(default_factory=list)
    lengths: List[int] = field(default_factory=list)
    steps: List[int] = field(default_factory=list)


class Collector:
    """Fills a :class:`RolloutBuffer` from a SAME_STEP-autoreset vector env.

    Tracks episode statistics from the raw rewards (before reward scaling), updates the
    observation statistics, and for each time-limit truncation stores V(final obs).
    """

    def __init__(self, envs: gym.vector.VectorEnv, network: ActorCritic, buffer: RolloutBuffer,
                 spaces: EnvSpaces, obs_norm: ObsNormalizer, reward_scaler: RewardScaler,
                 device: torch.device, seed: int,
                 numpy_network: Optional[NumpyActorCritic] = None) -> None:
        self.envs = envs
        self.network = network
        self.buffer = buffer
        self.spaces = spaces
        self.obs_norm = obs_norm
        self.reward_scaler = reward_scaler
        self.device = device
        #: When set (CPU), actions are sampled by the NumPy copy of the policy.
        self.numpy_network = numpy_network
        self.num_envs = envs.num_envs
        # Env i gets seed + i; later episodes follow from each env's own RNG.
        self.raw_obs, _ = envs.reset(seed=[seed + i for i in range(self.num_envs)])
        envs.action_space.seed(seed)
        self.episode_return = np.zeros(self.num_envs, np.float64)
        self.episode_length = np.zeros(self.num_envs, np.int64)

    def _to_device(self, obs: np.ndarray) -> Tensor:
        return torch.from_numpy(obs).to(self.device, non_blocking=True)

    def collect(self, global_step: int) -> tuple[Tensor, FinishedEpisodes]:
        """Run ``n_steps`` vector steps; return the normalised observation after the last
        step (for bootstrapping) and the episodes that ended. ``global_step`` is the env
        step count before this rollout."""
        buf = self.buffer
        finished = FinishedEpisodes()
        for t in range(buf.rewards.shape[0]):
            self.obs_norm.update(self.raw_obs)
            buf.obs[t] = self.obs_norm.normalize(self.raw_obs)
            if self.numpy_network is not None:
                buf.actions[t] = self.numpy_network.act(buf.obs[t])
            else:
                with torch.inference_mode():
                    action = self.network.act(self._to_device(buf.obs[t]))
                buf.actions[t] = action.cpu().numpy()
            raw_obs, reward, terminated, truncated, info = self.envs.step(
                self.spaces.env_action(buf.actions[t]))
            done = terminated | truncated
            global_step += self.num_envs

            self.episode_return += reward
            self.episode_length += 1
            buf.final_values[t] = 0.0
            if done.any():
                for i in np.flatnonzero(done):
                    finished.returns.append(float(self.episode_return[i]))
                    finished.lengths.append(int(self.episode_length[i]))
                    finished.steps.append(global_step - self.num_envs + int(i) + 1)
                self.episode_return[done] = 0.0
                self.episode_length[done] = 0
                cut = truncated & ~terminated
                if cut.any():
                    buf.final_values[t, cut] = self._final_values(info, cut)

            buf.rewards[t] = self.reward_scaler(reward, done)
            buf.terminated[t] = terminated
            buf.done[t] = done
            self.raw_obs = raw_obs
        return self._to_device(self.obs_norm.normalize(self.raw_obs)), finished

    def _final_values(self, info: dict, mask: np.ndarray) -> np.ndarray:
        """V of the true last observations of the truncated envs in ``mask``."""
        final_obs = np.stack(info["final_obs"][mask]).astype(np.float32)
        with torch.inference_mode():
            values = self.network.get_value(self._to_device(self.obs_norm.normalize(final_obs)))
        return values.cpu().numpy()
