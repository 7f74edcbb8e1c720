"""What an optimal policy scores on the final evaluations of ``env=taxi`` runs.

gymnasium's Taxi is deterministic and small (500 states), so its optimal policy is exact:
finite-horizon value iteration over the env's transition table (200 steps, the time
limit). This script plays that policy through a2c-cli's own evaluation (100 episodes from
the same env seeds as the final evaluation of a run with seed s) and prints its mean beside
the start-state average (the optimum's expected return, below gymnasium's threshold of 8).
Taxi's step draws from the env's RNG even when it is deterministic, so only each eval env's
first episode starts where the run's did; later start states depend on the steps taken,
and a run can score a little above or below the optimal policy's figure for its seed.

``--runs DIR...`` checks trained runs instead, state by state: for each state that can
occur (and each one an optimal policy visits), whether the run's greedy action is
optimal under Q*, and the expected return of acting greedily once from a start state and
optimally after.

    python benchmarks/taxi_optimum.py [seeds...]      # default: 0 1 2 3 4
    python benchmarks/taxi_optimum.py --runs outputs/benchmark/spaces/*env=taxi*

``--odds N`` plays the optimal policy through the final evaluations of seeds 0..N-1 and
prints how often its 100-episode mean reaches gymnasium's threshold of 8.

    python benchmarks/taxi_optimum.py --odds 300
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


def optimal_final_eval(q: np.ndarray, envs: gym.vector.VectorEnv, seed: int) -> np.ndarray:
    """The optimal policy's returns over the final evaluation of a run with ``seed``."""
    return evaluate(OptimalAgent(q), envs, EvalConfig().final_episodes,  # type: ignore[arg-type]
                    eval_env_seed(seed)).returns


def main(seeds: list[int]) -> None:
    q = optimal_q()
    start = gym.make("Taxi-v4").unwrapped.initial_state_distrib
    print(f"optimal expected return over Taxi's start states: {(start * q.max(1)).sum():.3f}")
    env_cfg = EnvConfig(id="Taxi-v4", action_mask_key="action_mask")
    for seed in seeds:
        envs = make_vector_env(env_cfg, EvalConfig().num_envs)
        returns = optimal_final_eval(q, envs, seed)
        envs.close()
        print(f"seed {seed}: the optimal policy scores {returns.mean():.2f} on the final "
              f"evaluation's {len(returns)} episodes")


def closure(env: gym.Env, starts: np.ndarray, actions) -> np.ndarray:  # noqa: ANN001
    """The states reachable from ``starts`` taking ``actions(state)`` (not past the end)."""
    seen = starts.copy()
    frontier = list(np.flatnonzero(starts))
    while frontier:
        state = frontier.pop()
        for action in actions(state):
            for _p, nxt, _r, done in env.P[state][action]:
                if not done and not seen[nxt]:
                    seen[nxt] = True
                    frontier.append(nxt)
    return seen


def check_runs(run_dirs: list[str]) -> None:
    """Where each run's greedy policy is optimal (see the module docstring)."""
    from pathlib import Path

    from a2c_cli.cli.evaluate import find_checkpoint, load_agent
    from a2c_cli.training.checkpoint import load_checkpoint

    q = optimal_q()
    env = gym.make("Taxi-v4").unwrapped
    start = env.initial_state_distrib
    obs = np.zeros((STATES, STATES + 6), np.float32)  # one-hot state, then the action mask
    for s in range(STATES):
        obs[s, s] = 1.0
        obs[s, STATES:] = env.action_mask(s)
    reachable = closure(env, start > 0, lambda s: range(6))
    on_path = closure(env, start > 0, lambda s: [int(q[s].argmax())])
    for run in run_dirs:
        ckpt, _ = find_checkpoint(Path(run), None)
        agent, _cfg = load_agent(load_checkpoint(ckpt), "cpu")
        with agent.frozen():
            actions = np.asarray(agent.act(obs, deterministic=True))
        loss = q.max(1) - q[np.arange(STATES), actions]
        bad = loss > 1e-9
        print(f"{run}: greedy action suboptimal in {bad[reachable].sum()} of "
              f"{reachable.sum()} reachable states ({bad[on_path].sum()} of the "
              f"{on_path.sum()} an optimal policy visits; the costliest loses "
              f"{loss[reachable].max():g}); one greedy step "
              f"from the start: {(start * q[np.arange(STATES), actions]).sum():.3f} "
              f"(optimal {(start * q.max(1)).sum():.3f})")


def threshold_odds(seeds: int, threshold: float = 8.0) -> None:
    """How often an optimal policy's final evaluation reaches ``threshold``."""
    q = optimal_q()
    envs = make_vector_env(EnvConfig(id="Taxi-v4", action_mask_key="action_mask"),
                           EvalConfig().num_envs)
    means = np.array([optimal_final_eval(q, envs, seed).mean() for seed in range(seeds)])
    envs.close()
    share = float((means >= threshold).mean())
    print(f"the optimal policy's final evaluation over seeds 0-{seeds - 1}: mean {means.mean():.3f}"
          f", std {means.std():.3f}; at or above {threshold:g} on {100 * share:.1f}% of seeds, "
          f"so on 5 seeds of 5 with odds of about {100 * share ** 5:.2f}%")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--runs"]:
        check_runs(sys.argv[2:])
    elif sys.argv[1:2] == ["--odds"]:
        threshold_odds(int(sys.argv[2]))
    else:
        main([int(s) for s in sys.argv[1:]] or [0, 1, 2, 3, 4])
