"""The state of a run that outlives a process: counters, timing, and what a checkpoint
holds (weights, optimizer, normalisation statistics, RNG states). Payload and restore in
one place, so the two cannot drift apart."""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

import torch

from a2c_cli.agent.agent import Agent
from a2c_cli.agent.normalization import RewardScaler
from a2c_cli.errors import NonFiniteError
from a2c_cli.training.checkpoint import (
    rms_from_tensors,
    rms_to_tensors,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from a2c_cli.training.optim import portable_state_dict
from a2c_cli.training.weight_average import WeightAverage

CHECKPOINT_FORMAT = 1


class Clock:
    """Wall time and training time (wall time minus evaluation and videos), continued
    across the sessions of a resumed run."""

    def __init__(self, wall_before: float = 0.0, train_before: float = 0.0) -> None:
        self.wall_before, self.train_before = wall_before, train_before
        self.start()

    def start(self) -> None:
        self._start, self._paused = time.perf_counter(), 0.0

    @contextmanager
    def not_training(self) -> Iterator[None]:
        """Time spent inside is left out of training time and SPS."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self._paused += time.perf_counter() - t0

    def session_train_time(self) -> float:
        return time.perf_counter() - self._start - self._paused

    def train_time(self) -> float:
        return self.train_before + self.session_train_time()

    def wall_time(self) -> float:
        return self.wall_before + time.perf_counter() - self._start


@dataclass
class TrainState:
    global_step: int = 0
    best_eval: Optional[float] = None
    #: ``{"step", "wall_time_s"}`` of the first periodic evaluation at the target.
    first_solved: Optional[Dict[str, float]] = None
    #: Updates whose advantage normalisation fell back to centring.
    fallbacks: float = 0.0
    clock: Clock = field(default_factory=Clock)


class Checkpointer:
    """Writes and restores everything needed to continue or evaluate a run; payloads are
    plain data and tensors, safe for ``weights_only`` loading."""

    def __init__(self, ckpt_dir: Path, state: TrainState, agent: Agent,
                 optimizer: torch.optim.Optimizer, reward_scaler: RewardScaler,
                 weights: WeightAverage, config: Dict[str, Any]) -> None:
        self.ckpt_dir, self.state, self.agent = ckpt_dir, state, agent
        self.optimizer, self.reward_scaler, self.config = optimizer, reward_scaler, config
        self.weights = weights

    def payload(self) -> Dict[str, Any]:
        s = self.state
        return {
            "format_version": CHECKPOINT_FORMAT,
            **self.weights.checkpoint_models(),
            "optimizer": portable_state_dict(self.optimizer),
            "obs_rms": rms_to_tensors(self.agent.obs_norm.rms),
            "reward_rms": rms_to_tensors(self.reward_scaler.rms),
            "global_step": s.global_step,
            "rng": rng_state(),
            "stats": {"best_eval": s.best_eval, "first_solved": s.first_solved,
                      "fallbacks": s.fallbacks, "wall_time_s": s.clock.wall_time(),
                      "train_time_s": s.clock.train_time()},
            "config": self.config,
        }

    def restore(self, payload: Dict[str, Any]) -> None:
        self.weights.restore(payload)
        self.optimizer.load_state_dict(payload["optimizer"])
        rms_from_tensors(self.agent.obs_norm.rms, payload["obs_rms"])
        rms_from_tensors(self.reward_scaler.rms, payload["reward_rms"])
        set_rng_state(payload["rng"])
        stats, s = payload["stats"], self.state
        s.global_step = int(payload["global_step"])
        s.best_eval, s.first_solved = stats["best_eval"], stats["first_solved"]
        s.fallbacks = float(stats["fallbacks"])
        s.clock = Clock(float(stats["wall_time_s"]), float(stats["train_time_s"]))

    def save(self, name: str) -> Path:
        """Write ``checkpoints/<name>`` atomically; never a checkpoint of broken weights."""
        if not all(bool(torch.isfinite(p).all()) for p in self.agent.network.parameters()):
            raise NonFiniteError("parameters")
        path = self.ckpt_dir / name
        save_checkpoint(path, self.payload())
        return path
