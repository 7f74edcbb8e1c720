"""The training loop: collect -> update -> scheduled events, then the final outputs.

:class:`Trainer` holds parts built by :func:`a2c_cli.training.build.build_trainer`; it
knows the order of things, not how any part works.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Optional

import gymnasium as gym

from a2c_cli.agent.agent import Agent
from a2c_cli.config import Config
from a2c_cli.envs.atari import frames_per_step
from a2c_cli.errors import NonFiniteError, TrainingDiverged, TrainingInterrupted, first_line
from a2c_cli.outputs.memory import peak_rss_mb
from a2c_cli.outputs.metrics import run_metrics, write_json
from a2c_cli.outputs.run_logger import RunLogger
from a2c_cli.outputs.video import VideoRecorder
from a2c_cli.training.collector import Collector
from a2c_cli.training.evaluation import EvalResult
from a2c_cli.training.evaluator import Evaluator
from a2c_cli.training.learner import A2C, StatsMean
from a2c_cli.training.rollout import RolloutBuffer
from a2c_cli.training.schedule import AtSteps, Every
from a2c_cli.training.seeds import video_seed
from a2c_cli.training.train_state import Checkpointer, TrainState
from a2c_cli.training.weight_average import WeightAverage

log = logging.getLogger("a2c_cli")


@dataclass
class Trainer:
    cfg: Config
    run_dir: Path
    agent: Agent
    envs: gym.vector.VectorEnv
    buffer: RolloutBuffer
    collector: Collector
    learner: A2C
    weights: WeightAverage
    state: TrainState
    checkpointer: Checkpointer
    evaluator: Evaluator
    logger: RunLogger
    videos: Optional[VideoRecorder]
    target: Optional[float]
    #: The signal number of a pending Ctrl-C/SIGTERM, if any.
    stop_requested: Callable[[], Optional[int]] = lambda: None

    def train(self) -> Dict[str, Any]:
        """Train up to ``total_timesteps``, evaluate, write outputs; returns the metrics."""
        try:
            self._loop()
            return self._finish()
        except NonFiniteError as exc:
            raise self._diverged(exc) from exc

    def _loop(self) -> None:
        cfg, s = self.cfg, self.state
        batch = cfg.num_envs * cfg.algo.n_steps
        num_updates = cfg.total_timesteps // batch
        log_due = Every(cfg.log_every_steps, s.global_step)
        eval_due = Every(cfg.eval.every_steps, s.global_step)
        checkpoint_due = Every(cfg.checkpoint.every_steps, s.global_step)
        video_due = AtSteps.spread(cfg.video.count, num_updates * batch, s.global_step,
                                   enabled=self.videos is not None)
        stats, first_step = StatsMean(), s.global_step
        self.logger.start(s.global_step)
        s.clock.start()
        for update in range(s.global_step // batch, num_updates):
            last_obs, finished = self.collector.collect(s.global_step)
            stats.add(self.learner.update(self.buffer, last_obs, update / num_updates))
            self.weights.update()
            s.global_step += batch
            self.logger.episodes(finished.returns, finished.lengths, finished.steps)
            sps = (s.global_step - first_step) / max(s.clock.session_train_time(), 1e-9)
            if log_due.due(s.global_step):
                self._log_training(stats, sps)
            if eval_due.due(s.global_step):
                with s.clock.not_training():
                    self._log_eval(self.evaluator.periodic())
            if video_due.due(s.global_step) and self.videos is not None:
                with s.clock.not_training(), self.weights.applied():
                    self._record_video(s.global_step, video_seed(cfg.seed, s.global_step))
            if checkpoint_due.due(s.global_step):
                self.checkpointer.save("last.pt")
            self.logger.progress(s.global_step, sps)
            signum = self.stop_requested()
            if signum is not None and update + 1 < num_updates:
                self._interrupt(signum)
        self.learner.finish()
        self.logger.stop()

    def _log_training(self, stats: StatsMean, sps: float) -> None:
        popped = stats.pop()
        if popped is None:
            return
        mean, total = popped
        self.state.fallbacks += total.adv_norm_fallback
        losses = mean._asdict()
        del losses["adv_norm_fallback"]
        self.logger.training(losses, self.learner.lr, self.learner.ent_coef, sps,
                             self.state.fallbacks, self.state.global_step)

    def _record_video(self, step: int, seed: int) -> None:
        """A video is a by-product: one that fails (a renderer, a codec, a full disk) is
        logged as a warning and the run goes on."""
        assert self.videos is not None
        try:
            self.videos.record(step, seed)
        except Exception as exc:  # noqa: BLE001 - whatever rendering raises
            log.warning("video at step %d failed, training goes on: %s: %s", step,
                        type(exc).__name__, first_line(exc))

    def _log_eval(self, result: EvalResult) -> None:
        self.logger.evaluation(result.mean, result.std, float(result.lengths.mean()),
                               len(result.returns), self.state.global_step)

    def _finish(self) -> Dict[str, Any]:
        """Final evaluation, final checkpoint, metrics.json, HParams, plot."""
        s = self.state
        with s.clock.not_training():
            final = self.evaluator.final()
        if final is not None:
            self.logger.final_evaluation(final.mean, final.std, s.global_step)
        self.checkpointer.save("final.pt")
        self.checkpointer.save("last.pt")  # so resume= can extend a finished run
        metrics = self._metrics("completed", final)
        write_json(self.run_dir / "metrics.json", metrics)
        self.logger.finish()
        if self.cfg.plot:
            self._plot()
        self.logger.summary(metrics)
        return metrics

    def _interrupt(self, signum: int) -> None:
        self.logger.stop()
        path = self.checkpointer.save("last.pt")
        write_json(self.run_dir / "metrics.json",
                   self._metrics("interrupted", None) | {"checkpoint": str(path)})
        self.logger.tb.flush()
        raise TrainingInterrupted(signum, self.state.global_step, self.run_dir)

    def _diverged(self, exc: NonFiniteError) -> TrainingDiverged:
        """Record the divergence in metrics.json; returns the error to raise."""
        self.logger.stop()
        step = self.state.global_step
        last = self.checkpointer.ckpt_dir / "last.pt"
        metrics = self._metrics("diverged", None) | {
            "diverged_at_step": step, "diverged_quantity": exc.quantity,
            "last_good_checkpoint": str(last) if last.is_file() else None,
        }
        write_json(self.run_dir / "metrics.json", metrics)
        self.logger.tb.flush()
        hint = f"the last good checkpoint is {last}" if last.is_file() else "no checkpoint yet"
        return TrainingDiverged(
            f"training diverged at step {step}: {exc} (NaN/inf from the env, or steps too "
            f"large: lower algo.lr or algo.max_grad_norm); {hint}")

    def _plot(self) -> None:
        """learning_curve.png; a plotting failure never costs the finished run."""
        from a2c_cli.outputs.plots import plot_learning_curve

        try:
            log.info("learning curve: %s", plot_learning_curve(self.run_dir))
        except Exception as exc:  # noqa: BLE001
            log.warning("learning_curve.png not written: %s", exc)

    def _metrics(self, status: str, final: Optional[EvalResult]) -> Dict[str, Any]:
        s = self.state
        return run_metrics(
            status=status, env_id=self.cfg.env.id, seed=self.cfg.seed,
            final_returns=final.returns if final is not None else None, target=self.target,
            best_eval=s.best_eval, first_solved=s.first_solved,
            total_timesteps=s.global_step, frames_per_step=frames_per_step(self.cfg.env.atari),
            wall_time_s=s.clock.wall_time(),
            train_time_s=s.clock.train_time(), device=str(self.agent.device),
            peak_rss_mb=peak_rss_mb())

    def close(self) -> None:
        self.logger.close()
        self.envs.close()
