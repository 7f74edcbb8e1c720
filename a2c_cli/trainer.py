"""The training loop: collect -> update -> log / evaluate / checkpoint, then final outputs.

Built from a plain :class:`~a2c_cli.config.Config` (no Hydra here) and a run directory.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import time
from collections import deque
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Optional

import numpy as np
import torch

from a2c_cli.checkpoint import (
    rms_from_tensors,
    rms_to_tensors,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from a2c_cli.collector import Collector, FinishedEpisodes
from a2c_cli.config import Config
from a2c_cli.console import RunConsole
from a2c_cli.envs import describe_spaces, make_vector_env, target_return
from a2c_cli.errors import TrainingDiverged, TrainingInterrupted
from a2c_cli.evaluation import EvalResult, Policy, evaluate
from a2c_cli.learner import A2C, STAT_NAMES, NonFiniteError, learning_rate, make_optimizer
from a2c_cli.memory import peak_rss_mb, rss_mb
from a2c_cli.networks import ActorCritic, flatten_parameters
from a2c_cli.normalization import ObsNormalizer, RewardScaler
from a2c_cli.numpy_mlp import NumpyActorCritic
from a2c_cli.numpy_mlp import supports as numpy_supports
from a2c_cli.rollout import RolloutBuffer
from a2c_cli.tb_logger import TensorBoardLogger, flatten_hparams
from a2c_cli.threads import limit_threads
from a2c_cli.validation import resolve_device

log = logging.getLogger("a2c_cli")

#: Offset between training and evaluation env seeds, so they never see the same episodes.
EVAL_SEED_OFFSET = 1_000_000
#: Window of the rolling return variance diagnostic (the seed notebook's window_length).
RETURN_WINDOW = 50
CHECKPOINT_FORMAT = 1


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


def _next_multiple(step: int, every: int) -> Optional[int]:
    """The first multiple of ``every`` above ``step``; None when ``every`` is 0 (off)."""
    return (step // every + 1) * every if every > 0 else None


class Trainer:
    """Owns the envs, network, learner and loggers of one run.

    ``resume`` is a checkpoint payload (``last.pt``) to continue from: weights, optimizer,
    normalisation statistics, RNG states, step and run statistics are restored; the envs
    restart fresh episodes from a seed derived from the step, so a resume is reproducible.
    """

    def __init__(self, cfg: Config, run_dir: Path, config_dict: Dict[str, Any],
                 console: RunConsole, resume: Optional[Dict[str, Any]] = None,
                 stop_requested: Callable[[], Optional[int]] = lambda: None) -> None:
        self.cfg = cfg
        self.run_dir = run_dir
        self.ckpt_dir = run_dir / "checkpoints"
        self.config_dict = config_dict
        self.console = console
        self.stop_requested = stop_requested
        self._start, self._eval_time = time.perf_counter(), 0.0
        limit_threads(cfg.torch_threads)
        self.device = resolve_device(cfg.device)
        seed_everything(cfg.seed)
        self.target = target_return(cfg.env)

        self.envs = make_vector_env(cfg.env, cfg.num_envs, cfg.vec_env)
        self.eval_envs = make_vector_env(cfg.env, cfg.eval.num_envs, "sync")
        self.spaces = describe_spaces(self.envs.single_observation_space,
                                      self.envs.single_action_space)
        self.network = ActorCritic(self.spaces, cfg.network).to(self.device)
        flat = flatten_parameters(self.network)
        self.numpy_network = NumpyActorCritic(self.network) if (
            cfg.cpu_numpy and self.device.type == "cpu" and numpy_supports(cfg.network)) else None
        self.learner = A2C(self.network, make_optimizer(iter([flat]), cfg.algo), cfg.algo,
                           self.numpy_network)
        self.obs_norm = ObsNormalizer(self.spaces.obs_dim, cfg.algo.normalize_obs,
                                      cfg.algo.obs_clip)
        self.reward_scaler = RewardScaler(cfg.num_envs, cfg.algo.gamma, cfg.algo.scale_reward,
                                          cfg.algo.reward_clip)
        self.policy = Policy(self.network, self.spaces, self.obs_norm, self.device)
        self.global_step = 0
        self.best_eval: Optional[float] = None
        self.first_solved: Optional[Dict[str, float]] = None
        self.fallbacks = 0.0
        self.elapsed_before = 0.0  # wall seconds of earlier sessions of a resumed run
        self.train_time_before = 0.0
        env_seed = cfg.seed
        if resume is not None:
            self._restore(resume)
            env_seed = cfg.seed + self.global_step  # fresh episodes, reproducibly
        action_shape = () if self.spaces.discrete else (self.spaces.action_dim,)
        self.buffer = RolloutBuffer(cfg.algo.n_steps, cfg.num_envs, self.spaces.obs_dim,
                                    action_shape, self.spaces.discrete, self.device)
        self.collector = Collector(self.envs, self.network, self.buffer, self.spaces,
                                   self.obs_norm, self.reward_scaler, self.device, env_seed,
                                   self.numpy_network)
        # On resume, purge_step hides what a killed session logged after last.pt was
        # written; events at last.pt's own step were logged before it and stay.
        self.tb = TensorBoardLogger(run_dir,
                                    purge_step=self.global_step + 1 if resume is not None else None)
        self.recent_returns: deque[float] = deque(maxlen=RETURN_WINDOW)

    # ------------------------------------------------------------------ checkpoints
    def checkpoint_payload(self) -> Dict[str, Any]:
        """Everything needed to continue or evaluate; safe for ``weights_only`` loading."""
        return {
            "format_version": CHECKPOINT_FORMAT,
            "model": self.network.state_dict(),
            "optimizer": self.learner.optimizer.state_dict(),
            "obs_rms": rms_to_tensors(self.obs_norm.rms),
            "reward_rms": rms_to_tensors(self.reward_scaler.rms),
            "global_step": self.global_step,
            "rng": rng_state(),
            "stats": {"best_eval": self.best_eval, "first_solved": self.first_solved,
                      "fallbacks": self.fallbacks, "wall_time_s": self._wall_time(),
                      "train_time_s": self._train_time()},
            "config": self.config_dict,
        }

    def _restore(self, payload: Dict[str, Any]) -> None:
        self.network.load_state_dict(payload["model"])
        self.learner.optimizer.load_state_dict(payload["optimizer"])
        rms_from_tensors(self.obs_norm.rms, payload["obs_rms"])
        rms_from_tensors(self.reward_scaler.rms, payload["reward_rms"])
        self.global_step = int(payload["global_step"])
        set_rng_state(payload["rng"])
        stats = payload["stats"]
        self.best_eval, self.first_solved = stats["best_eval"], stats["first_solved"]
        self.fallbacks = float(stats["fallbacks"])
        self.elapsed_before = float(stats["wall_time_s"])
        self.train_time_before = float(stats["train_time_s"])

    def save(self, name: str) -> Path:
        """Write ``checkpoints/<name>`` atomically; never a checkpoint of broken weights."""
        if not all(bool(torch.isfinite(p).all()) for p in self.network.parameters()):
            raise NonFiniteError("parameters")
        path = self.ckpt_dir / name
        save_checkpoint(path, self.checkpoint_payload())
        return path

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, episodes: int) -> EvalResult:
        return evaluate(self.policy, self.eval_envs, episodes, self.cfg.seed + EVAL_SEED_OFFSET,
                        self.cfg.eval.deterministic)

    def _record_video(self) -> None:
        from a2c_cli.video import gif_bytes, record_episode, write_mp4

        cfg = self.cfg.video
        frames, ret = record_episode(self.policy, self.cfg.env,
                                     self.cfg.seed + EVAL_SEED_OFFSET + self.global_step,
                                     self.cfg.eval.deterministic)
        path = write_mp4(self.run_dir / "videos" / f"step_{self.global_step:09d}.mp4", frames,
                         cfg.fps)
        if cfg.tensorboard:
            data = gif_bytes(frames, cfg.fps)
            self.tb.gif("videos/eval_episode", data, frames.shape[1] // 2, frames.shape[2] // 2,
                        self.global_step)
        log.info("video at step %d: %s (return %.1f)", self.global_step, path.name, ret)

    def _periodic_eval(self) -> None:
        result = self.evaluate(self.cfg.eval.episodes)
        self.tb.scalars({"eval/mean_return": result.mean, "eval/std_return": result.std,
                         "eval/mean_length": float(result.lengths.mean())}, self.global_step)
        log.info("eval at step %d: mean return %.1f +/- %.1f over %d episodes",
                 self.global_step, result.mean, result.std, len(result.returns))
        if self.best_eval is None or result.mean > self.best_eval:
            self.best_eval = result.mean
            if self.cfg.checkpoint.save_best:
                self.save("best.pt")
        if self.first_solved is None and self.target is not None and result.mean >= self.target:
            self.first_solved = {"step": self.global_step,
                                 "wall_time_s": round(self._wall_time(), 2)}

    # ------------------------------------------------------------------ logging
    def _log_episodes(self, finished: FinishedEpisodes) -> None:
        episodes = zip(finished.returns, finished.lengths, finished.steps, strict=True)
        for ret, length, step in episodes:
            self.tb.scalar("charts/episodic_return", ret, step)
            self.tb.scalar("charts/episodic_length", length, step)
            self.recent_returns.append(ret)

    def _log_training(self, stats_sum: torch.Tensor, n_updates: int, lr: float,
                      sps: float) -> None:
        means = (stats_sum / n_updates).tolist()
        losses = zip(STAT_NAMES[:5], means[:5], strict=True)
        scalars = {f"losses/{name}": value for name, value in losses}
        scalars.update({
            "charts/SPS": sps,
            "charts/learning_rate": lr,
            "diagnostics/adv_norm_fallback_count": self.fallbacks,
            "diagnostics/rss_mb": rss_mb(),
        })
        if len(self.recent_returns) >= 2:
            scalars["diagnostics/return_variance"] = float(np.var(self.recent_returns))
        self.tb.scalars(scalars, self.global_step)

    @contextmanager
    def _not_training(self) -> Iterator[None]:
        """Time spent inside (evaluation, videos) is left out of train time and SPS."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self._eval_time += time.perf_counter() - t0

    def _wall_time(self) -> float:
        return self.elapsed_before + time.perf_counter() - self._start

    def _train_time(self) -> float:
        return self.train_time_before + time.perf_counter() - self._start - self._eval_time

    # ------------------------------------------------------------------ main loop
    def train(self) -> Dict[str, Any]:
        """Train up to ``total_timesteps``, evaluate, write outputs; returns metrics."""
        try:
            return self._train()
        except NonFiniteError as exc:
            return self._diverged(exc)

    def _train(self) -> Dict[str, Any]:
        cfg = self.cfg
        batch = cfg.num_envs * cfg.algo.n_steps
        num_updates = cfg.total_timesteps // batch
        first_update = self.global_step // batch
        if first_update == 0:
            self.tb.text("config", "```yaml\n" + _yaml(self.config_dict) + "\n```")
        stats_sum = torch.zeros(len(STAT_NAMES), device=self.device)
        n_stats = 0
        next_log = _next_multiple(self.global_step, cfg.log_every_steps)
        next_eval = _next_multiple(self.global_step, cfg.eval.every_steps)
        next_ckpt = _next_multiple(self.global_step, cfg.checkpoint.every_steps)
        # Videos at k/count of the run, k = 1..count: the last one at the final step.
        end = num_updates * batch
        video_steps = [end * k // cfg.video.count for k in range(1, cfg.video.count + 1)]
        video_steps = [v for v in video_steps if v > self.global_step] if cfg.video.enabled \
            else []
        self._start, self._eval_time = time.perf_counter(), 0.0
        steps_at_start = self.global_step
        lr = cfg.algo.lr

        for update in range(first_update, num_updates):
            lr = learning_rate(cfg.algo, update / num_updates)
            self.learner.set_learning_rate(lr)
            last_obs, finished = self.collector.collect(self.global_step)
            stats_sum += self.learner.update(self.buffer.to_device(), last_obs)
            n_stats += 1
            self.global_step += batch
            self._log_episodes(finished)
            session_train_time = time.perf_counter() - self._start - self._eval_time
            sps = (self.global_step - steps_at_start) / max(session_train_time, 1e-9)
            if next_log is not None and self.global_step >= next_log:
                self.fallbacks += float(stats_sum[-1])
                self._log_training(stats_sum, n_stats, lr, sps)
                stats_sum.zero_()
                n_stats = 0
                next_log += cfg.log_every_steps
            if next_eval is not None and self.global_step >= next_eval:
                with self._not_training():
                    self._periodic_eval()
                next_eval += cfg.eval.every_steps
            if video_steps and self.global_step >= video_steps[0]:
                with self._not_training():
                    self._record_video()
                video_steps = [v for v in video_steps if v > self.global_step]
            if next_ckpt is not None and self.global_step >= next_ckpt:
                self.save("last.pt")
                next_ckpt += cfg.checkpoint.every_steps
            recent = float(np.mean(self.recent_returns)) if self.recent_returns else None
            self.console.update(self.global_step, sps, recent)
            signum = self.stop_requested()
            if signum is not None and update + 1 < num_updates:
                self._interrupt(signum)

        self.console.stop()
        metrics = self._finish()
        self.console.summary(metrics)
        return metrics

    def _interrupt(self, signum: int) -> None:
        self.console.stop()
        path = self.save("last.pt")
        write_json(self.run_dir / "metrics.json",
                   self._metrics("interrupted", None) | {"checkpoint": str(path)})
        self.tb.flush()
        raise TrainingInterrupted(signum, self.global_step, self.run_dir)

    def _diverged(self, exc: NonFiniteError) -> Dict[str, Any]:
        self.console.stop()
        last = self.ckpt_dir / "last.pt"
        metrics = self._metrics("diverged", None) | {
            "diverged_at_step": self.global_step, "diverged_quantity": exc.quantity,
            "last_good_checkpoint": str(last) if last.is_file() else None,
        }
        write_json(self.run_dir / "metrics.json", metrics)
        self.tb.flush()
        hint = f"the last good checkpoint is {last}" if last.is_file() else "no checkpoint yet"
        raise TrainingDiverged(
            f"training diverged at step {self.global_step}: {exc} (NaN/inf from the env, or "
            f"steps too large: lower algo.lr or algo.max_grad_norm); {hint}")

    def _finish(self) -> Dict[str, Any]:
        """Final evaluation, final checkpoint, metrics.json."""
        final: Optional[EvalResult] = None
        if self.cfg.eval.final_episodes > 0:
            log.info("final evaluation: %d deterministic episodes", self.cfg.eval.final_episodes)
            with self._not_training():
                final = self.evaluate(self.cfg.eval.final_episodes)
            self.tb.scalars({"eval/final_mean_return": final.mean,
                             "eval/final_std_return": final.std}, self.global_step)
        self.save("final.pt")
        self.save("last.pt")  # so resume= can extend a finished run (total_timesteps=...)
        metrics = self._metrics("completed", final)
        write_json(self.run_dir / "metrics.json", metrics)
        final_scalars = {"eval/final_mean_return": final.mean,
                         "eval/final_std_return": final.std} if final is not None else {}
        self.tb.hparams(flatten_hparams(self.config_dict), final_scalars)
        self.tb.flush()
        if self.cfg.plot:
            self._plot()
        return metrics

    def _plot(self) -> None:
        """learning_curve.png; a plotting failure never costs the finished run."""
        from a2c_cli.plots import plot_learning_curve

        try:
            log.info("learning curve: %s", plot_learning_curve(self.run_dir))
        except Exception as exc:  # noqa: BLE001
            log.warning("learning_curve.png not written: %s", exc)

    def _metrics(self, status: str, final: Optional[EvalResult]) -> Dict[str, Any]:
        mean = final.mean if final is not None else None
        train_time = self._train_time()
        return {
            "status": status,
            "env_id": self.cfg.env.id,
            "seed": self.cfg.seed,
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
            "wall_time_s": round(self._wall_time(), 2),
            "train_time_s": round(train_time, 2),
            "sps": round(self.global_step / max(train_time, 1e-9), 1),
            "device": str(self.device),
            "peak_rss_mb": _rounded_or_none(peak_rss_mb()),
        }

    def close(self) -> None:
        self.console.stop()
        self.tb.close()
        self.envs.close()
        self.eval_envs.close()


def _rounded_or_none(value: float) -> Optional[float]:
    """``value`` to 0.1, or None (JSON null) when it is not known (NaN)."""
    return round(value, 1) if math.isfinite(value) else None


def _yaml(data: Dict[str, Any]) -> str:
    from omegaconf import OmegaConf

    return OmegaConf.to_yaml(OmegaConf.create(data))
