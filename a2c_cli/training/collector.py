"""Collecting rollouts: stepping the vector env with the current policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List

import gymnasium as gym
import numpy as np

from a2c_cli.agent.agent import Agent
from a2c_cli.agent.normalization import RewardScaler
from a2c_cli.training.rollout import RolloutBuffer


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

    def __init__(self, envs: gym.vector.VectorEnv, agent: Agent, buffer: RolloutBuffer,
                 reward_scaler: RewardScaler, seed: int, game_scores: bool = False) -> None:
        """``game_scores``: episode statistics are the full games the envs report
        (``info["episode"]``, the Atari protocol), not the learner's episodes."""
        self.envs = envs
        self.game_scores = game_scores
        self.agent = agent
        self.buffer = buffer
        self.reward_scaler = reward_scaler
        self.num_envs = envs.num_envs
        # Env i gets seed + i; later episodes follow from each env's own RNG.
        self.raw_obs, _ = envs.reset(seed=[seed + i for i in range(self.num_envs)])
        envs.action_space.seed(seed)
        self.episode_return = np.zeros(self.num_envs, np.float64)
        self.episode_length = np.zeros(self.num_envs, np.int64)

    def collect(self, global_step: int) -> tuple[np.ndarray, FinishedEpisodes]:
        """Run ``n_steps`` vector steps; return the normalised observation after the last
        step (for bootstrapping) and the episodes that ended. ``global_step`` is the env
        step count before this rollout.

        With a :class:`~a2c_cli.envs.envpool_backend.SplitEnvPool` the two halves of the envs
        are pipelined: one half steps in EnvPool's threads while the policy acts for the
        other. Every env's transitions are those of the plain loop (same policy, same
        order); only the observation statistics fold in half a step at a time.
        """
        finished = FinishedEpisodes()
        self.agent.reset_noise(self.num_envs)
        n_steps = self.buffer.rewards.shape[0]
        groups = getattr(self.envs, "groups", None)
        if groups is None:
            everything, result = slice(None), None
            for t in range(n_steps):
                self._begin(t, everything)
                if result is not None:  # while a GPU samples step t's actions
                    self._record_outcome(t - 1, everything, result, global_step, finished)
                result = self.envs.step(self._end(t, everything))
                self._record_obs(t, everything, result)
            self._record_outcome(n_steps - 1, everything, result, global_step, finished)
        else:
            (first, second), (first_sl, second_sl) = groups, self.envs.slices
            first.send(self._act(0, first_sl))
            for t in range(n_steps):
                second.send(self._act(t, second_sl))
                self._record(t, first_sl, first.recv(), global_step, finished)
                if t + 1 < n_steps:
                    first.send(self._act(t + 1, first_sl))
                self._record(t, second_sl, second.recv(), global_step, finished)
        return self.agent.normalize(self.raw_obs), finished

    def _begin(self, t: int, envs: slice) -> None:
        """Store step ``t``'s normalised observations for ``envs`` and start sampling."""
        self.buffer.obs[t, envs] = self.agent.observe(self.raw_obs[envs])
        self.agent.begin_step(self.buffer, t, envs)

    def _end(self, t: int, envs: slice) -> np.ndarray:
        """Step ``t``'s sampled actions for ``envs``, as the env takes them."""
        return self.agent.env_action(self.agent.end_step(self.buffer, t, envs))

    def _act(self, t: int, envs: slice) -> np.ndarray:
        self._begin(t, envs)
        return self._end(t, envs)

    def _record(self, t: int, envs: slice, result: tuple, global_step: int,
                finished: FinishedEpisodes) -> None:
        """Store step ``t``'s outcome for ``envs`` (a step of the envs in that slice)."""
        self._record_obs(t, envs, result)
        self._record_outcome(t, envs, result, global_step, finished)

    def _record_obs(self, t: int, envs: slice, result: tuple) -> None:
        """What the next step needs: the new observations, and V(true final observation)
        of envs truncated by a time limit (normalised with step ``t``'s statistics)."""
        raw_obs, _, terminated, truncated, info = result
        final_values = self.buffer.final_values[t, envs]
        final_values[...] = 0.0
        cut = truncated & ~terminated if truncated.any() else None
        if cut is not None and cut.any():
            final_obs = np.stack(info["final_obs"][cut])
            final_values[cut] = self.agent.values(final_obs)
        self.raw_obs[envs] = raw_obs

    def _record_outcome(self, t: int, envs: slice, result: tuple, global_step: int,
                        finished: FinishedEpisodes) -> None:
        """Step ``t``'s rewards, flags and finished episodes for ``envs``."""
        buf = self.buffer
        _, reward, terminated, truncated, info = result
        done = terminated | truncated
        episode_return = self.episode_return[envs]
        episode_length = self.episode_length[envs]
        episode_return += reward
        episode_length += 1
        if done.any():
            step_before = global_step + t * self.num_envs + (envs.start or 0)
            if self.game_scores:
                self._record_games(info, step_before, finished)
            else:
                for i in np.flatnonzero(done):
                    finished.returns.append(float(episode_return[i]))
                    finished.lengths.append(int(episode_length[i]))
                    finished.steps.append(step_before + int(i) + 1)
            episode_return[done] = 0.0
            episode_length[done] = 0
        buf.rewards[t, envs] = self.reward_scaler(reward, done, envs)
        buf.terminated[t, envs] = terminated
        buf.done[t, envs] = done

    @staticmethod
    def _record_games(info: dict, step_before: int, finished: FinishedEpisodes) -> None:
        """Full games that ended (RecordEpisodeStatistics below the training-only wrappers:
        raw score and length of the whole game, not of the learner's per-life episode)."""
        games = info.get("final_info", {})
        if "episode" not in games:
            return
        for i in np.flatnonzero(games["_episode"]):
            finished.returns.append(float(games["episode"]["r"][i]))
            finished.lengths.append(int(games["episode"]["l"][i]))
            finished.steps.append(step_before + int(i) + 1)
