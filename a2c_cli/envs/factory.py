"""Building vector environments (gymnasium, or EnvPool with ``env.backend=envpool``).

Autoreset mode: we use ``AutoresetMode.SAME_STEP``. When a sub-environment's episode ends,
the step that ended it already returns the first observation of the next episode, and the
true last observation is in ``info["final_obs"]``. So every step we store is a real
transition (no NEXT_STEP "reset" step with a dummy reward to mask out), and a time-limit
truncation can bootstrap from the value of the true final observation.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Optional

import gymnasium as gym
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv

from a2c_cli.config import EnvConfig
from a2c_cli.envs.spaces import EnvSpaces, describe_spaces

# Rendering through pygame must work without a display (CI, Slurm nodes).
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")


def make_env_fn(env_cfg: EnvConfig, render_mode: Optional[str] = None) -> Callable[[], gym.Env]:
    """A zero-argument constructor for one sub-environment."""

    def thunk() -> gym.Env:
        kwargs: dict[str, Any] = dict(env_cfg.kwargs)
        if env_cfg.max_episode_steps is not None:
            kwargs["max_episode_steps"] = env_cfg.max_episode_steps
        if render_mode is not None:
            kwargs["render_mode"] = render_mode
        return gym.make(env_cfg.id, **kwargs)

    return thunk


def make_vector_env(env_cfg: EnvConfig, num_envs: int, kind: str = "sync") -> gym.vector.VectorEnv:
    """``num_envs`` copies of the env with SAME_STEP autoreset: a gymnasium Sync/Async
    VectorEnv, or for ``env.backend=envpool`` one EnvPool pool (``sync``) or two pools that
    the collector pipelines (``async``, see :class:`~a2c_cli.envpool_backend.SplitEnvPool`)."""
    if env_cfg.backend == "envpool":
        from a2c_cli.envs.envpool_backend import EnvPoolVectorEnv, SplitEnvPool

        if kind == "async":
            return SplitEnvPool(env_cfg, num_envs)  # type: ignore[return-value]
        return EnvPoolVectorEnv(env_cfg, num_envs)  # type: ignore[return-value]
    fns = [make_env_fn(env_cfg) for _ in range(num_envs)]
    cls = AsyncVectorEnv if kind == "async" else SyncVectorEnv
    return cls(fns, autoreset_mode=AutoresetMode.SAME_STEP)


def probe_spaces(env_cfg: EnvConfig) -> EnvSpaces:
    """Build one env just to read (and check) its spaces, then close it."""
    if env_cfg.backend == "envpool":
        envs = make_vector_env(env_cfg, 1)
        try:
            return describe_spaces(envs.single_observation_space, envs.single_action_space)
        finally:
            envs.close()
    env = make_env_fn(env_cfg)()
    try:
        return describe_spaces(env.observation_space, env.action_space)
    finally:
        env.close()


def target_return(env_cfg: EnvConfig) -> Optional[float]:
    """The configured target, else the env's registered ``reward_threshold``."""
    if env_cfg.target_return is not None:
        return float(env_cfg.target_return)
    threshold = gym.spec(env_cfg.id.rpartition(":")[2]).reward_threshold
    return None if threshold is None else float(threshold)
