"""The training loop: collect -> update -> log / evaluate, then final evaluation and outputs.

Built from a plain :class:`~a2c_cli.config.Config` (no Hydra here) and a run directory.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from collections import deque
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np
import torch

from a2c_cli.checkpoint import rms_to_tensors, save_checkpoint
from a2c_cli.collector import Collector, FinishedEpisodes
from a2c_cli.config import Config
from a2c_cli.console import RunConsole
from a2c_cli.envs import describe_spaces, make_vector_env, target_return
from a2c_cli.evaluation import EvalResult, evaluate
from a2c_cli.learner import A2C, STAT_NAMES, learning_rate, make_optimizer
from a2c_cli.networks import ActorCritic
from a2c_cli.normalization import ObsNormalizer, RewardScaler
from a2c_cli.rollout import RolloutBuffer
from a2c_cli.tb_logger import TensorBoardLogger
from a2c_cli.validation import ConfigError

log = logging.getLogger("a2c_cli")

#: Offset between training and evaluation env seeds, so they never see the same episodes.
EVAL_SEED_OFFSET = 1_000_000
#: Window of the rolling return variance diagnostic (the seed notebook's window_length).
RETURN_WINDOW = 50


def resolve_device(name: str) -> torch.device:
    """``auto`` = the GPU when there is one; ``cuda`` without one is a config error."""
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device='cuda' is invalid: no CUDA GPU is available here; "
                          "use device=auto or device=cpu.")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (env seeds are set at reset)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def write_json(path: Path, data: Dict[str, Any]) -> None:
    """Write JSON atomically (temp file + rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


class Trainer:
    """Owns the envs, network, learner and loggers of one run."""

    def __init__(self, cfg: Config, run_dir: Path, config_dict: Dict[str, Any],
                 console: RunConsole) -> None:
        self.cfg = cfg
        self.run_dir = run_dir
        self.config_dict = config_dict
        self.console = console
        if cfg.torch_threads > 0:
            torch.set_num_threads(cfg.torch_threads)
        self.device = resolve_device(cfg.device)
        seed_everything(cfg.seed)
        self.target = target_return(cfg.env)

        self.envs = make_vector_env(cfg.env, cfg.num_envs, cfg.vec_env)
        self.eval_envs = make_vector_env(cfg.env, cfg.eval.num_envs, "sync")
        self.spaces = describe_spaces(self.envs.single_observation_space,
                                      self.envs.single_action_space)
        self.network = ActorCritic(self.spaces, cfg.network).to(self.device)
        self.learner = A2C(self.network, make_optimizer(self.network.parameters(), cfg.algo),
                           cfg.algo)
        self.obs_norm = ObsNormalizer(self.spaces.obs_dim, cfg.algo.normalize_obs,
                                      cfg.algo.obs_clip)
        self.reward_scaler = RewardScaler(cfg.num_envs, cfg.algo.gamma, cfg.algo.scale_reward,
                                          cfg.algo.reward_clip)
        action_shape = () if self.spaces.discrete else (self.spaces.action_dim,)
        self.buffer = RolloutBuffer(cfg.algo.n_steps, cfg.num_envs, self.spaces.obs_dim,
                                    action_shape, self.spaces.discrete, self.device)
        self.collector = Collector(self.envs, self.network, self.buffer, self.spaces,
                                   self.obs_norm, self.reward_scaler, self.device, cfg.seed)
        self.tb = TensorBoardLogger(run_dir)
        self.global_step = 0
        self.recent_returns: deque[float] = deque(maxlen=RETURN_WINDOW)
        self.best_eval: Optional[float] = None
        self.first_solved: Optional[Dict[str, float]] = None

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, episodes: int) -> EvalResult:
        return evaluate(self.network, self.eval_envs, self.spaces, self.obs_norm, episodes,
                        self.cfg.seed + EVAL_SEED_OFFSET, self.device,
                        self.cfg.eval.deterministic)

    def _periodic_eval(self, elapsed_s: float) -> None:
        result = self.evaluate(self.cfg.eval.episodes)
        self.tb.scalars({"eval/mean_return": result.mean, "eval/std_return": result.std,
                         "eval/mean_length": float(result.lengths.mean())}, self.global_step)
        self.best_eval = result.mean if self.best_eval is None else max(self.best_eval, result.mean)
        if self.first_solved is None and self.target is not None and result.mean >= self.target:
            self.first_solved = {"step": self.global_step, "wall_time_s": round(elapsed_s, 2)}
        log.info("eval at step %d: mean return %.1f +/- %.1f over %d episodes",
                 self.global_step, result.mean, result.std, len(result.returns))

    # ------------------------------------------------------------------ logging
    def _log_episodes(self, finished: FinishedEpisodes) -> None:
        episodes = zip(finished.returns, finished.lengths, finished.steps, strict=True)
        for ret, length, step in episodes:
            self.tb.scalar("charts/episodic_return", ret, step)
            self.tb.scalar("charts/episodic_length", length, step)
            self.recent_returns.append(ret)

    def _log_training(self, stats_sum: torch.Tensor, n_updates: int, fallbacks: float,
                      lr: float, sps: float) -> None:
        means = (stats_sum / n_updates).tolist()
        losses = zip(STAT_NAMES[:5], means[:5], strict=True)
        scalars = {f"losses/{name}": value for name, value in losses}
        scalars.update({
            "charts/SPS": sps,
            "charts/learning_rate": lr,
            "diagnostics/adv_norm_fallback_count": fallbacks,
        })
        if len(self.recent_returns) >= 2:
            scalars["diagnostics/return_variance"] = float(np.var(self.recent_returns))
        self.tb.scalars(scalars, self.global_step)

    # ------------------------------------------------------------------ main loop
    def train(self) -> Dict[str, Any]:
        """Train for ``total_timesteps``, evaluate, write outputs; returns metrics."""
        cfg = self.cfg
        batch = cfg.num_envs * cfg.algo.n_steps
        num_updates = cfg.total_timesteps // batch
        self.tb.text("config", "```yaml\n" + _yaml(self.config_dict) + "\n```")
        stats_sum = torch.zeros(len(STAT_NAMES), device=self.device)
        n_stats, fallbacks = 0, 0.0
        next_log = cfg.log_every_steps
        next_eval = cfg.eval.every_steps if cfg.eval.every_steps > 0 else None
        start = time.perf_counter()
        eval_time = 0.0
        lr = cfg.algo.lr

        for update in range(num_updates):
            lr = learning_rate(cfg.algo, update / num_updates)
            self.learner.set_learning_rate(lr)
            last_obs, finished = self.collector.collect(self.global_step)
            stats_sum += self.learner.update(self.buffer.to_device(), last_obs)
            n_stats += 1
            self.global_step += batch
            self._log_episodes(finished)
            sps = self.global_step / max(time.perf_counter() - start - eval_time, 1e-9)
            if self.global_step >= next_log:
                fallbacks += float(stats_sum[-1])
                self._log_training(stats_sum, n_stats, fallbacks, lr, sps)
                stats_sum.zero_()
                n_stats = 0
                next_log += cfg.log_every_steps
            if next_eval is not None and self.global_step >= next_eval:
                t0 = time.perf_counter()
                self._periodic_eval(t0 - start)
                eval_time += time.perf_counter() - t0
                next_eval += cfg.eval.every_steps
            recent = float(np.mean(self.recent_returns)) if self.recent_returns else None
            self.console.update(self.global_step, sps, recent)

        train_time = time.perf_counter() - start - eval_time
        self.console.stop()
        metrics = self._finish(train_time, start)
        self.console.summary(metrics)
        return metrics

    def _finish(self, train_time: float, start: float) -> Dict[str, Any]:
        """Final evaluation, final checkpoint, metrics.json."""
        cfg = self.cfg
        final: Optional[EvalResult] = None
        if cfg.eval.final_episodes > 0:
            log.info("final evaluation: %d deterministic episodes", cfg.eval.final_episodes)
            final = self.evaluate(cfg.eval.final_episodes)
            self.tb.scalars({"eval/final_mean_return": final.mean,
                             "eval/final_std_return": final.std}, self.global_step)
        save_checkpoint(self.run_dir / "checkpoints" / "final.pt", self.checkpoint_payload())
        mean = final.mean if final is not None else None
        metrics: Dict[str, Any] = {
            "status": "completed",
            "env_id": cfg.env.id,
            "seed": cfg.seed,
            "final_eval_mean_return": mean,
            "final_eval_std_return": final.std if final is not None else None,
            "final_eval_episodes": len(final.returns) if final is not None else 0,
            "final_eval_returns": [round(r, 2) for r in final.returns.tolist()]
            if final is not None else [],
            "target_return": self.target,
            "solved": bool(mean is not None and self.target is not None and mean >= self.target),
            "best_eval_mean_return": self.best_eval,
            "first_solved_eval": self.first_solved,
            "total_timesteps": self.global_step,
            "wall_time_s": round(time.perf_counter() - start, 2),
            "train_time_s": round(train_time, 2),
            "sps": round(self.global_step / max(train_time, 1e-9), 1),
            "device": str(self.device),
        }
        write_json(self.run_dir / "metrics.json", metrics)
        self.tb.flush()
        return metrics

    def checkpoint_payload(self) -> Dict[str, Any]:
        """Everything needed to rebuild the agent; safe for ``weights_only`` loading."""
        return {
            "format_version": 1,
            "model": self.network.state_dict(),
            "optimizer": self.learner.optimizer.state_dict(),
            "obs_rms": rms_to_tensors(self.obs_norm.rms),
            "reward_rms": rms_to_tensors(self.reward_scaler.rms),
            "global_step": self.global_step,
            "config": self.config_dict,
        }

    def close(self) -> None:
        self.console.stop()
        self.tb.close()
        self.envs.close()
        self.eval_envs.close()


def _yaml(data: Dict[str, Any]) -> str:
    from omegaconf import OmegaConf

    return OmegaConf.to_yaml(OmegaConf.create(data))
