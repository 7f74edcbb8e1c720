"""The "random" scores of a2c_cli/data/references.yaml: mean return of uniformly random
actions over 100 episodes (episode seeds 10000-10099) for each benchmark task.

    python benchmarks/random_scores.py
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

TASKS = [("CartPole-v1", {}), ("Acrobot-v1", {}), ("MountainCar-v0", {}),
         ("MountainCarContinuous-v0", {}), ("Pendulum-v1", {}), ("LunarLander-v3", {}),
         ("LunarLander-v3", {"continuous": True}), ("BipedalWalker-v3", {})]


def main() -> None:
    for env_id, kwargs in TASKS:
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
        print(f"{env_id} {kwargs or ''}: {np.mean(returns):.1f} +- {np.std(returns):.1f}")


if __name__ == "__main__":
    main()
