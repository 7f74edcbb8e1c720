"""Building vector environments (gymnasium, or EnvPool with ``env.backend=envpool``).

Autoreset mode: we use ``AutoresetMode.SAME_STEP``. When a sub-environment's episode ends,
the step that ended it already returns the first observation of the next episode, and the
true last observation is in ``info["final_obs"]``. So every step we store is a real
transition (no NEXT_STEP "reset" step with a dummy reward to mask out), and a time-limit
truncation can bootstrap from the value of the true final observation.
"""

from __future__ import annotations

import importlib
import os
from typing import Any, Callable, Optional

import gymnasium as gym
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv

from a2c_cli.config import EnvConfig
from a2c_cli.envs.action_masks import ActionMaskObservation
from a2c_cli.envs.spaces import EnvSpaces, describe_spaces, observation_wrapper
from a2c_cli.envs.wrappers import apply_wrappers, import_user_modules
from a2c_cli.errors import UnsupportedEnvError

# Rendering through pygame must work without a display (CI, Slurm nodes).
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")


#: gymnasium namespaces registered by optional packages: namespace -> (module to import,
#: its registration function or None when importing registers, the a2c-cli extra).
NAMESPACES = {"ALE": ("ale_py", None, "atari"),
              "MinAtar": ("minatar.gym", "register_envs", "minatar")}
#: The same for packages whose ids share a prefix instead of a namespace.
PREFIXES = {"MiniGrid-": ("minigrid", None, "minigrid"), "BabyAI-": ("minigrid", None, "minigrid")}


def register_namespace(env_id: str) -> None:
    """Make ``env_id``'s namespace known to gymnasium (``ALE/...``: ale-py, ``MinAtar/...``:
    minatar, ``MiniGrid-...``: minigrid), or say which extra installs it."""
    namespace = env_id.partition("/")[0] if "/" in env_id else None
    prefix = next((p for p in PREFIXES if env_id.startswith(p)), None)
    if namespace in NAMESPACES:
        if any(k.startswith(f"{namespace}/") for k in gym.registry):
            return
        module_name, register, extra = NAMESPACES[namespace]
    elif prefix is not None:
        if env_id in gym.registry:
            return
        module_name, register, extra = PREFIXES[prefix]
    else:
        return
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UnsupportedEnvError(
            f"env.id='{env_id}' needs the {module_name.split('.')[0]} package ({exc}); install "
            f"it with: pip install 'a2c-cli[{extra}]' (make install includes it)") from exc
    if register is not None:
        getattr(module, register)()


def make_env_fn(env_cfg: EnvConfig, render_mode: Optional[str] = None,
                training: bool = False) -> Callable[[], gym.Env]:
    """A zero-argument constructor for one sub-environment; ``training`` adds what only the
    learner sees (the Atari protocol's episodic life and reward clipping)."""
    register_namespace(env_cfg.id)
    import_user_modules()  # env.id=my_envs:MyEnv-v0 from the working directory

    def thunk() -> gym.Env:
        kwargs: dict[str, Any] = dict(env_cfg.kwargs)
        if env_cfg.max_episode_steps is not None:
            kwargs["max_episode_steps"] = env_cfg.max_episode_steps
        if render_mode is not None:
            kwargs["render_mode"] = render_mode
        if env_cfg.atari:
            from a2c_cli.envs.atari import ALE_KWARGS, atari_env

            env = atari_env(gym.make(env_cfg.id, **(ALE_KWARGS | kwargs)), training)
        else:
            env = gym.make(env_cfg.id, **kwargs)
        if env_cfg.wrappers:
            env = apply_wrappers(env, env_cfg.wrappers)
        adapter = observation_wrapper(env.observation_space)  # one-hot, flat, packed ...
        if adapter is not None:
            env = adapter(env)
        if env_cfg.action_mask_key is not None:
            env = ActionMaskObservation(env, env_cfg.action_mask_key)
        return env

    return thunk


def make_vector_env(env_cfg: EnvConfig, num_envs: int, kind: str = "sync",
                    training: bool = False) -> gym.vector.VectorEnv:
    """``num_envs`` copies of the env with SAME_STEP autoreset: a gymnasium Sync/Async
    VectorEnv, or for ``env.backend=envpool`` one EnvPool pool (``sync``) or two pools that
    the collector pipelines (``async``, see :class:`~a2c_cli.envpool_backend.SplitEnvPool`).
    ``training``: the learner's envs (see :func:`make_env_fn`)."""
    if env_cfg.backend == "envpool":
        from a2c_cli.envs.envpool_backend import EnvPoolVectorEnv, SplitEnvPool

        if kind == "async":
            return SplitEnvPool(env_cfg, num_envs, training=training)  # type: ignore[return-value]
        return EnvPoolVectorEnv(env_cfg, num_envs, training=training)  # type: ignore[return-value]
    fns = [make_env_fn(env_cfg, training=training) for _ in range(num_envs)]
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
