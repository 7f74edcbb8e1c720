"""The EnvPool backend (``env.backend=envpool``): C++ environments stepped by a thread pool.

EnvPool's autoreset is NEXT_STEP: the step after an episode ends is a reset step whose
action is ignored. :class:`EnvPoolVectorEnv` turns that into the SAME_STEP contract the
rest of a2c-cli relies on (see :mod:`a2c_cli.envs`): when an episode ends, the finished
envs are reset at once (EnvPool's partial ``reset(env_ids)``), the step returns their new
first observations, and the true last observations go to ``info["final_obs"]``. So the
collector, the evaluation and the episode statistics are the same code for both backends.

EnvPool is an optional extra (``pip install 'a2c-cli[envpool]'``); it is imported only
when this backend is chosen.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np

from a2c_cli.config import EnvConfig
from a2c_cli.envs.atari import FRAME_SKIP
from a2c_cli.errors import EnvPoolUnavailable

#: gymnasium kwargs that select a different EnvPool task instead of an option.
_KWARG_TASKS = {("LunarLander-v3", "continuous"): {False: "LunarLander-v3",
                                                   True: "LunarLanderContinuous-v3"}}


StepResult = Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, Dict[str, Any]]


def import_envpool() -> Any:
    try:
        import envpool
    except ImportError as exc:
        raise EnvPoolUnavailable(
            f"env.backend=envpool needs the envpool package ({exc}); install the extra: "
            "pip install 'a2c-cli[envpool]' (or use env.backend=gymnasium).") from exc
    return envpool


#: EnvPool's Atari options for the protocol of :mod:`a2c_cli.envs.atari` (its C++
#: preprocessing: no-op resets, frame skip 4 with max-pooling, 84x84 grayscale with OpenCV's
#: area resize, 4 stacked frames). Episodic life and reward clipping are added for training.
ATARI_OPTIONS = {"repeat_action_probability": 0.0, "noop_max": 30, "frame_skip": FRAME_SKIP,
                 "stack_num": 4, "img_height": 84, "img_width": 84, "gray_scale": True,
                 "use_fire_reset": False}


def atari_rom_base() -> str:
    """A directory laid out as EnvPool's ``base_path`` expects (``atari/roms/<game>.bin``),
    pointing at the ROMs that ship inside ale-py (EnvPool's wheel has none)."""
    try:
        import ale_py
    except ImportError as exc:
        raise EnvPoolUnavailable(
            f"env.atari with env.backend=envpool needs ale-py's ROMs ({exc}); install the "
            "extra: pip install 'a2c-cli[atari]'") from exc
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    base = cache / "a2c-cli" / "envpool"
    link = base / "atari" / "roms"
    link.parent.mkdir(parents=True, exist_ok=True)
    try:
        link.symlink_to(Path(ale_py.__file__).parent / "roms", target_is_directory=True)
    except FileExistsError:  # made before, or by a run starting beside this one
        pass
    return str(base)


def envpool_task(env_cfg: EnvConfig) -> str:
    """The EnvPool task id for a gymnasium id and kwargs; ValueError when there is none.

    EnvPool mirrors gymnasium's ids (``CartPole-v1``, ``Pendulum-v1``, ``LunarLander-v3``
    ...). LunarLander's ``continuous`` kwarg picks ``LunarLanderContinuous-v3``; other
    gymnasium kwargs (wind, gravity ...) have no EnvPool equivalent.
    """
    envpool = import_envpool()
    if ":" in env_cfg.id:
        raise ValueError(f"env.id={env_cfg.id!r} is a Python gymnasium env; EnvPool runs only "
                         "its own C++ envs: use env.backend=gymnasium")
    task = env_cfg.id.removeprefix("ALE/") if env_cfg.atari else env_cfg.id
    kwargs = dict(env_cfg.kwargs)
    for (task_id, key), choices in _KWARG_TASKS.items():
        if task == task_id and key in kwargs:
            task = choices[bool(kwargs.pop(key))]
    if kwargs:
        raise ValueError(f"env.kwargs={dict(env_cfg.kwargs)!r} is not supported by "
                         f"env.backend=envpool: EnvPool's {task} has no option "
                         f"{', '.join(map(str, kwargs))}; use env.backend=gymnasium")
    supported = envpool.list_all_envs()
    if task not in supported:
        import difflib

        close = difflib.get_close_matches(task, supported, n=3, cutoff=0.6)
        hint = f"; close EnvPool ids: {', '.join(close)}" if close else ""
        raise ValueError(f"env.id={env_cfg.id!r} is not available with env.backend=envpool"
                         f"{hint}; use env.backend=gymnasium")
    return task


class EnvPoolVectorEnv:
    """``num_envs`` EnvPool envs behind the part of gymnasium's ``VectorEnv`` API a2c-cli
    uses (``reset``, ``step``, ``close``, ``num_envs``, ``single_*_space``), SAME_STEP.

    EnvPool fixes seeds when the pool is created (env i gets ``seed + i``), so
    ``reset(seed=...)`` builds a fresh pool: a seeded reset gives the same episodes every
    time, as with gymnasium.

    With ``env.atari`` and ``training``, a lost life ends the learner's episode and rewards
    are clipped (EnvPool's own options), and whole games are reported as gymnasium's
    ``RecordEpisodeStatistics`` reports them (``info["final_info"]["episode"]``), from
    EnvPool's raw rewards (``info["reward"]``) and game ends (``info["terminated"]``).
    """

    def __init__(self, env_cfg: EnvConfig, num_envs: int, seed: int = 0,
                 num_threads: int = 0, training: bool = False) -> None:
        self.task = envpool_task(env_cfg)
        self.num_envs = num_envs
        self._make_kwargs: Dict[str, Any] = {"env_type": "gymnasium", "num_envs": num_envs,
                                             "num_threads": num_threads}
        if env_cfg.atari:
            self._make_kwargs |= ATARI_OPTIONS | {
                "episodic_life": training, "reward_clip": training,
                "base_path": atari_rom_base()}
        if env_cfg.max_episode_steps is not None:
            self._make_kwargs["max_episode_steps"] = env_cfg.max_episode_steps
        self._games = env_cfg.atari and training
        self._game_return = np.zeros(num_envs)
        self._game_length = np.zeros(num_envs, np.int64)
        self._pool = self._new_pool(seed)
        self.single_observation_space = self._pool.observation_space
        self.single_action_space = self._pool.action_space
        #: Seeded by the collector like gymnasium's; not used for acting.
        self.action_space = self.single_action_space
        self._ids = np.arange(num_envs, dtype=np.int32)

    def _new_pool(self, seed: int) -> Any:
        envpool = import_envpool()
        with warnings.catch_warnings():  # its Box spaces are built from float64 bounds
            warnings.simplefilter("ignore", UserWarning)
            pool = envpool.make(self.task, seed=int(seed), **self._make_kwargs)
            pool.observation_space, pool.action_space  # noqa: B018 - built lazily, warn once
        return pool

    def reset(self, *, seed: Union[int, Sequence[int], None] = None,
              options: Optional[dict] = None) -> Tuple[np.ndarray, dict]:
        """Reset every env; with ``seed`` (an int, or a list whose first entry is env 0's
        seed, as gymnasium takes it), from a new pool seeded so that env i gets seed + i."""
        del options
        if seed is not None:
            first = seed if isinstance(seed, int) else seed[0]
            self._pool.close()
            self._pool = self._new_pool(first)
        obs, info = self._pool.reset()
        return self._in_order(obs, info["env_id"]), {}

    def step(self, actions: np.ndarray) -> StepResult:
        self.send(actions)
        return self.recv()

    def send(self, actions: np.ndarray) -> None:
        """Start stepping every env with ``actions``; returns at once (EnvPool's threads
        step while the caller works). :meth:`recv` collects the results."""
        self._pool.send(actions, self._ids)

    def recv(self) -> StepResult:
        """Wait for the step :meth:`send` started; SAME_STEP results in env order."""
        obs, reward, terminated, truncated, info = self._pool.recv()
        env_id = info["env_id"]
        order = slice(None)
        if not np.array_equal(env_id, self._ids):  # results come in the order envs finish
            order = np.argsort(env_id)
            obs, reward = obs[order], reward[order]
            terminated, truncated = terminated[order], truncated[order]
        done = terminated | truncated
        out_info: Dict[str, Any] = {}
        if self._games:
            out_info = self._record_games(info["reward"][order],
                                          info["terminated"][order].astype(bool) | truncated)
        if done.any():
            ids = np.flatnonzero(done).astype(np.int32)
            final_obs = np.empty(self.num_envs, dtype=object)
            final_obs[ids] = list(obs[ids].copy())
            obs = obs.copy()
            reset_obs, reset_ids = self._next_episode(ids)
            obs[reset_ids] = reset_obs
            out_info |= {"final_obs": final_obs, "_final_obs": done}
        return (obs, reward.astype(np.float64), terminated.astype(bool),
                truncated.astype(bool), out_info)

    def _next_episode(self, ids: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """First observations of the next episode of envs ``ids`` (and their ids).

        With episodic life that is EnvPool's own autoreset step (an ignored action), which
        goes on with the game after a lost life and restarts it only when it is over; an
        explicit ``reset(ids)`` would restart the game at every lost life."""
        if self._games:
            noop = np.zeros(len(ids), self.single_action_space.dtype)
            self._pool.send(noop, ids)
            obs, _, _, _, info = self._pool.recv()
            return obs, info["env_id"]
        obs, info = self._pool.reset(ids)
        return obs, info["env_id"]

    def _record_games(self, raw_reward: np.ndarray, game_over: np.ndarray) -> Dict[str, Any]:
        """Add a step's raw rewards to each game; the games that ended, as gymnasium's
        RecordEpisodeStatistics reports them (nothing when none ended)."""
        self._game_return += raw_reward
        self._game_length += 1
        if not game_over.any():
            return {}
        episode = {"r": self._game_return.copy(), "l": self._game_length.copy()}
        self._game_return[game_over] = 0.0
        self._game_length[game_over] = 0
        return {"final_info": {"episode": episode, "_episode": game_over}}

    def _in_order(self, obs: np.ndarray, env_id: np.ndarray) -> np.ndarray:
        out = np.empty_like(obs)
        out[env_id] = obs
        return out

    def close(self) -> None:
        self._pool.close()


class SplitEnvPool:
    """``num_envs`` envs as two EnvPool pools of about half each, so that one half steps
    while the policy acts for the other (see :meth:`a2c_cli.training.collector.Collector.collect`).

    Env i still gets seed + i (each pool is seeded from its first env's index), so the
    episodes are those of one pool. :meth:`step` steps both halves, for the code that
    steps all envs at once.
    """

    def __init__(self, env_cfg: EnvConfig, num_envs: int, seed: int = 0,
                 training: bool = False) -> None:
        if num_envs < 2:
            raise ValueError("SplitEnvPool needs num_envs >= 2")
        half = num_envs // 2
        self.slices = [slice(0, half), slice(half, num_envs)]
        self.groups = [EnvPoolVectorEnv(env_cfg, sl.stop - sl.start, seed + sl.start, 1,
                                        training) for sl in self.slices]
        self.num_envs = num_envs
        self.single_observation_space = self.groups[0].single_observation_space
        self.single_action_space = self.groups[0].single_action_space
        self.action_space = self.single_action_space

    def reset(self, *, seed: Union[int, Sequence[int], None] = None,
              options: Optional[dict] = None) -> Tuple[np.ndarray, dict]:
        first = seed if seed is None or isinstance(seed, int) else seed[0]
        obs = [group.reset(seed=None if first is None else first + sl.start)[0]
               for group, sl in zip(self.groups, self.slices, strict=True)]
        return np.concatenate(obs), {}

    def step(self, actions: np.ndarray) -> StepResult:
        for group, sl in zip(self.groups, self.slices, strict=True):
            group.send(actions[sl])
        results = [group.recv() for group in self.groups]
        obs, reward, terminated, truncated = (np.concatenate([r[k] for r in results])
                                              for k in range(4))
        info: Dict[str, Any] = {}
        if any("final_obs" in r[4] for r in results):
            info["_final_obs"] = terminated | truncated
            info["final_obs"] = np.empty(self.num_envs, dtype=object)
            for r, sl in zip(results, self.slices, strict=True):
                if "final_obs" in r[4]:
                    info["final_obs"][sl] = r[4]["final_obs"]
        if any("final_info" in r[4] for r in results):
            ended = np.zeros(self.num_envs, bool)
            episode = {"r": np.zeros(self.num_envs), "l": np.zeros(self.num_envs, np.int64)}
            for r, sl in zip(results, self.slices, strict=True):
                if "final_info" in r[4]:
                    games = r[4]["final_info"]
                    ended[sl] = games["_episode"]
                    episode["r"][sl] = games["episode"]["r"]
                    episode["l"][sl] = games["episode"]["l"]
            info["final_info"] = {"episode": episode, "_episode": ended}
        return obs, reward, terminated, truncated, info

    def close(self) -> None:
        for group in self.groups:
            group.close()
