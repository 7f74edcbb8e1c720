"""What an optimal policy scores on the final evaluations of ``env=taxi`` runs.

gymnasium's Taxi is deterministic and small (500 states), so its optimal policy is exact:
finite-horizon value iteration over the env's transition table (200 steps, the time
limit). This script plays that policy through a2c-cli's own evaluation (the same 100
episodes, from the same seeds, as the final evaluation of a run with seed s) and prints its
mean beside the start-state average. A run whose final evaluation equals the optimum on its
episodes has learnt an optimal policy, whatever gymnasium's threshold of 8 says (the
optimum's expected return is below it).

    python benchmarks/taxi_optimum.py [seeds...]      # default: 0 1 2 3 4
"""

from __future__ import annotations

import contextlib
import sys

import gymnasium as gym
import numpy as np

from a2c_cli.config import EnvConfig, EvalConfig
from a2c_cli.envs.factory import make_vector_env
from a2c_cli.training.evaluation import evaluate
from a2c_cli.training.seeds import eval_env_seed

HORIZON, STATES = 200, 500


def optimal_q() -> np.ndarray:
    """Q*(s, a) of the undiscounted return within the time limit."""
    table = gym.make("Taxi-v4").unwrapped.P
    value = np.zeros(STATES)
    for _ in range(HORIZON):
        q = np.array([[sum(p * (r + (0.0 if done else value[s2])) for p, s2, r, done in table[s][a])
                       for a in range(6)] for s in range(STATES)])
        value = q.max(axis=1)
    return q


class OptimalAgent:
    """What evaluate() asks of an agent: greedy actions on Q* from the one-hot state."""

    def __init__(self, q: np.ndarray) -> None:
        self.q = q

    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        return self.q[obs[:, :STATES].argmax(axis=1)].argmax(axis=1)

    def frozen(self):  # noqa: ANN201 - a context manager, as Agent.frozen
        return contextlib.nullcontext()


def main(seeds: list[int]) -> None:
    q = optimal_q()
    start = gym.make("Taxi-v4").unwrapped.initial_state_distrib
    print(f"optimal expected return over Taxi's start states: {(start * q.max(1)).sum():.3f}")
    env_cfg = EnvConfig(id="Taxi-v4", action_mask_key="action_mask")
    episodes = EvalConfig().final_episodes
    for seed in seeds:
        envs = make_vector_env(env_cfg, EvalConfig().num_envs)
        result = evaluate(OptimalAgent(q), envs, episodes, eval_env_seed(seed))  # type: ignore[arg-type]
        envs.close()
        print(f"seed {seed}: the optimal policy scores {result.returns.mean():.2f} on the final "
              f"evaluation's {len(result.returns)} episodes")


if __name__ == "__main__":
    main([int(s) for s in sys.argv[1:]] or [0, 1, 2, 3, 4])
