"""The "random" scores of a2c_cli/data/references.yaml: mean return of uniformly random
actions over 100 episodes (episode seeds 10000-10099) for each benchmark task.

    python benchmarks/random_scores.py [ENV_ID ...]   # all tasks, or the ids given
"""

from __future__ import annotations

import sys

import gymnasium as gym
import numpy as np

TASKS = [("CartPole-v1", {}), ("Acrobot-v1", {}), ("MountainCar-v0", {}),
         ("MountainCarContinuous-v0", {}), ("Pendulum-v1", {}), ("LunarLander-v3", {}),
         ("LunarLander-v3", {"continuous": True}), ("BipedalWalker-v3", {}),
         ("FrozenLake-v1", {}), ("Taxi-v4", {}), ("MiniGrid-DoorKey-5x5-v0", {}),
         ("HalfCheetah-v5", {}),
         ("Hopper-v5", {}), ("Walker2d-v5", {}), ("Ant-v5", {}), ("Humanoid-v5", {}),
         ("Swimmer-v5", {})]


def main() -> None:
    wanted = set(sys.argv[1:])
    for env_id, kwargs in TASKS:
        if wanted and env_id not in wanted:
            continue
        if env_id.startswith("MiniGrid-"):
            import minigrid  # noqa: F401 (registers the MiniGrid ids)
        env = gym.make(env_id, **kwargs)
        env.action_space.seed(0)
        returns = []
        for episode in range(100):
            env.reset(seed=10_000 + episode)
            done, total = False, 0.0
            while not done:
                _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
        digits = 1 if abs(np.mean(returns)) >= 10 else 3
        print(f"{env_id} {kwargs or ''}: {np.mean(returns):.{digits}f} +- "
              f"{np.std(returns):.{digits}f}")


if __name__ == "__main__":
    main()
