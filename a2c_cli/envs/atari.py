"""The Atari protocol of published A2C results, from gymnasium's own wrappers.

ale-py's ``ALE/<Game>-v5`` with ``frameskip=1`` and ``repeat_action_probability=0`` (no sticky
actions), then gymnasium's :class:`~gymnasium.wrappers.AtariPreprocessing` (up to 30 no-op
actions at reset, frame skip 4 with max-pooling of the last two frames, 84x84 grayscale) and
:class:`~gymnasium.wrappers.FrameStackObservation` (4 frames). For training only, and inside
the frame stack: a lost life ends the learner's episode (:class:`EpisodicLife`) and rewards
are clipped to [-1, 1] (:class:`~gymnasium.wrappers.ClipReward`); below both,
:class:`~gymnasium.wrappers.RecordEpisodeStatistics` keeps the raw score of each full game,
which is what training statistics report. Evaluation envs get neither, so every evaluation
scores full games in raw points.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

#: What the protocol needs from ``ALE/*`` kwargs (set where the preset leaves them out).
ALE_KWARGS = {"frameskip": 1, "repeat_action_probability": 0.0}
#: Emulator frames per agent step: each action repeats for 4 frames.
FRAME_SKIP = 4


def frames_per_step(atari: bool) -> int:
    """Frames one agent step plays: the protocol's frame skip with ``env.atari``, else 1
    (MinAtar and every non-Atari env: one step, one frame). Budgets in papers are often in
    frames: 10M agent steps of Atari are 40M frames."""
    return FRAME_SKIP if atari else 1


class EpisodicLife(gym.Wrapper):
    """A lost life ends the episode for the learner (``terminated``), but the game goes on:
    the reset that follows continues it with a no-op step; only a finished game resets.

    gymnasium has no such wrapper: ``AtariPreprocessing(terminal_on_life_loss=True)`` ends
    the episode too, but the vector env's autoreset then restarts the whole game, so the
    agent would never play past its first life.
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.lives = 0
        self.game_over = True

    def step(self, action: Any) -> tuple:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.game_over = terminated or truncated
        lives = self.env.unwrapped.ale.lives()
        if 0 < lives < self.lives:
            terminated = True
        self.lives = lives
        return obs, reward, terminated, truncated, info

    def reset(self, **kwargs: Any) -> tuple:
        if self.game_over:
            obs, info = self.env.reset(**kwargs)
        else:
            obs, _, terminated, truncated, info = self.env.step(0)
            if terminated or truncated:  # the no-op itself ended the game
                obs, info = self.env.reset(**kwargs)
        self.game_over = False
        self.lives = self.env.unwrapped.ale.lives()
        return obs, info


def atari_env(env: gym.Env, training: bool) -> gym.Env:
    """Wrap an ``ALE/*`` env (made with :data:`ALE_KWARGS`) in the protocol."""
    env = gym.wrappers.AtariPreprocessing(env, noop_max=30, frame_skip=FRAME_SKIP,
                                          screen_size=84, grayscale_obs=True, scale_obs=False)
    if training:
        env = gym.wrappers.RecordEpisodeStatistics(env)
        env = EpisodicLife(env)
        env = gym.wrappers.ClipReward(env, -1.0, 1.0)
    return gym.wrappers.FrameStackObservation(env, 4)
