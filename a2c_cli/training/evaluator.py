"""Evaluation during and at the end of training: periodic evaluations with best and
first-solved tracking, and the final one that ``metrics.json`` reports."""

from __future__ import annotations

import logging
from typing import Callable, Optional

import gymnasium as gym

from a2c_cli.agent.agent import Agent
from a2c_cli.config import EvalConfig
from a2c_cli.training.evaluation import EvalResult, evaluate
from a2c_cli.training.train_state import TrainState
from a2c_cli.training.weight_average import WeightAverage

log = logging.getLogger("a2c_cli")


class Evaluator:
    """Evaluates ``agent`` (with the averaged weights, when ``algo.ema_decay`` is on) on
    envs made afresh for each evaluation and reset from the same seed, so successive
    evaluations differ only by the policy. Fresh, because a seeded reset does not clear
    every env's history: BipedalWalker keeps its Box2D world across resets, and the same
    policy and seed then score differently after other episodes (and in ``a2c-eval``)."""

    def __init__(self, agent: Agent, weights: WeightAverage,
                 make_envs: Callable[[], gym.vector.VectorEnv], cfg: EvalConfig, seed: int,
                 target: Optional[float], state: TrainState,
                 on_new_best: Callable[[], None]) -> None:
        self.agent, self.weights, self.make_envs = agent, weights, make_envs
        self.cfg, self.seed = cfg, seed
        self.target, self.state, self.on_new_best = target, state, on_new_best

    def evaluate(self, episodes: int) -> EvalResult:
        envs = self.make_envs()
        try:
            with self.weights.applied():
                return evaluate(self.agent, envs, episodes, self.seed, self.cfg.deterministic)
        finally:
            envs.close()

    def periodic(self) -> EvalResult:
        """``eval.episodes`` episodes; a new best calls ``on_new_best`` (best.pt), and the
        first result at the target is remembered with its step and wall time."""
        result = self.evaluate(self.cfg.episodes)
        s = self.state
        if s.best_eval is None or result.mean > s.best_eval:
            s.best_eval = result.mean
            self.on_new_best()
        if s.first_solved is None and self.target is not None and result.mean >= self.target:
            s.first_solved = {"step": s.global_step, "wall_time_s": round(s.clock.wall_time(), 2)}
        return result

    def final(self) -> Optional[EvalResult]:
        """``eval.final_episodes`` episodes (None when 0)."""
        if self.cfg.final_episodes == 0:
            return None
        log.info("final evaluation: %d deterministic episodes", self.cfg.final_episodes)
        return self.evaluate(self.cfg.final_episodes)
