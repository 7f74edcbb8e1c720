"""Is EnvPool's MuJoCo the same benchmark as gymnasium's? Episode returns and lengths of
one fixed open-loop policy (a sine per joint, identical in every env) on EnvPool's v4 tasks,
gymnasium's v4 and gymnasium's v5, 20 seeded episodes each, with the observation sizes.

Same dynamics give the same distribution of returns (the start states differ per seed, so
episodes are compared as distributions, not one by one).

    python benchmarks/envpool_mujoco_parity.py [TASK ...]   # e.g. Hopper; default: all six
"""

from __future__ import annotations

import sys

import gymnasium as gym
import numpy as np

TASKS = ("HalfCheetah", "Hopper", "Walker2d", "Ant", "Humanoid", "Swimmer")
EPISODES = 20


def policy(t: np.ndarray, n_actions: int, high: float) -> np.ndarray:
    """The same smooth open-loop torques for every env: 0.5 * high * sin(0.1 t + joint)."""
    return (0.5 * high * np.sin(0.1 * t[:, None] + np.arange(n_actions)[None, :])).astype(
        np.float32)


def run(step, reset, n_envs: int, n_actions: int, high: float) -> tuple[np.ndarray, ...]:
    """EPISODES episodes spread over ``n_envs`` envs; returns (returns, lengths).

    ``step`` returns (reward, done, moved): ``moved`` is False for an env whose step only
    reset it (EnvPool's autoreset takes one extra step after an episode ends)."""
    reset()
    t = np.zeros(n_envs)
    total = np.zeros(n_envs)
    returns: list[float] = []
    lengths: list[int] = []
    while len(returns) < EPISODES:
        reward, done, moved = step(policy(t, n_actions, high))
        total += np.where(moved, reward, 0.0)
        t += moved
        for i in np.flatnonzero(done):
            returns.append(total[i])
            lengths.append(int(t[i]))
            total[i] = 0.0
            t[i] = 0
    return np.array(returns[:EPISODES]), np.array(lengths[:EPISODES])


def gymnasium_side(env_id: str) -> tuple[np.ndarray, np.ndarray, int]:
    envs = gym.vector.SyncVectorEnv([lambda: gym.make(env_id)] * 4,
                                    autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    space = envs.single_action_space

    def step(actions):
        _, reward, terminated, truncated, _ = envs.step(actions)
        return reward, terminated | truncated, np.ones(4, bool)

    returns, lengths = run(step, lambda: envs.reset(seed=list(range(4))), 4, space.shape[0],
                           float(space.high[0]))
    dims = envs.single_observation_space.shape[0]
    envs.close()
    return returns, lengths, dims


def envpool_side(env_id: str) -> tuple[np.ndarray, np.ndarray, int]:
    import envpool

    envs = envpool.make_gymnasium(env_id, num_envs=4, seed=0)
    space = envs.action_space
    ended = np.zeros(4, bool)

    def step(actions):
        nonlocal ended
        _, reward, terminated, truncated, _ = envs.step(actions)
        moved, ended = ~ended, (terminated | truncated) & ~ended
        return reward, ended, moved

    returns, lengths = run(step, envs.reset, 4, space.shape[0], float(space.high[0]))
    dims = envs.observation_space.shape[0]
    envs.close()
    return returns, lengths, dims


def main() -> None:
    tasks = sys.argv[1:] or TASKS
    print(f"fixed sine policy, {EPISODES} episodes each: return mean +- std (length), obs dims")
    for task in tasks:
        cells = []
        for label, side, env_id in (("envpool v4", envpool_side, f"{task}-v4"),
                                    ("gymnasium v4", gymnasium_side, f"{task}-v4"),
                                    ("gymnasium v5", gymnasium_side, f"{task}-v5")):
            returns, lengths, dims = side(env_id)
            cells.append(f"{label}: {returns.mean():8.1f} +- {returns.std():6.1f} "
                         f"({lengths.mean():6.1f}) obs {dims}")
        print(f"{task:12s} " + " | ".join(cells))


if __name__ == "__main__":
    main()
