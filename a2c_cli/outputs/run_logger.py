"""Everything a run reports while it trains: TensorBoard scalars, console progress and log
lines. Takes plain numbers, so it knows nothing of tensors or the learner."""

from __future__ import annotations

import logging
from collections import deque
from typing import Any, Callable, Dict, Mapping, Optional, Protocol, Sequence

import numpy as np

from a2c_cli.outputs.memory import rss_mb
from a2c_cli.outputs.tensorboard import TensorBoardLogger, flatten_hparams

log = logging.getLogger("a2c_cli")

#: Window of the rolling return-variance diagnostic and the console's recent return.
RETURN_WINDOW = 50


class Progress(Protocol):
    """The console side (a2c_cli.cli.console.RunConsole)."""

    def start(self, config: Mapping[str, Any], run_dir: str, resumed_from: int = 0) -> None: ...

    def update(self, step: int, sps: float,
               recent_return: Callable[[], Optional[float]]) -> None: ...

    def stop(self) -> None: ...

    def summary(self, metrics: Mapping[str, Any]) -> None: ...


class RunLogger:
    """TensorBoard, console and log lines of one run."""

    def __init__(self, tb: TensorBoardLogger, console: Progress, config: Dict[str, Any],
                 run_dir: str, trial: str = "") -> None:
        """``trial``: the run's name in TensorBoard's HParams table ("" = its path)."""
        self.tb, self.console, self.config, self.run_dir = tb, console, config, run_dir
        self.trial = trial
        self.recent_returns: deque[float] = deque(maxlen=RETURN_WINDOW)

    def start(self, step: int) -> None:
        """Console header; the config as TensorBoard text on a new run."""
        self.console.start(self.config, self.run_dir, resumed_from=step)
        if step == 0:
            self.tb.text("config", "```yaml\n" + _yaml(self.config) + "\n```")

    def episodes(self, returns: Sequence[float], lengths: Sequence[int],
                 steps: Sequence[int]) -> None:
        for ret, length, step in zip(returns, lengths, steps, strict=True):
            self.tb.scalars({"charts/episodic_return": ret, "charts/episodic_length": length},
                            step)
            self.recent_returns.append(ret)

    def training(self, losses: Mapping[str, float], lr: float, ent_coef: float, sps: float,
                 fallbacks: float, step: int) -> None:
        scalars = {f"losses/{name}": value for name, value in losses.items()}
        scalars.update({
            "charts/SPS": sps,
            "charts/learning_rate": lr,
            "charts/ent_coef": ent_coef,
            "diagnostics/adv_norm_fallback_count": fallbacks,
            "diagnostics/rss_mb": rss_mb(),
        })
        if len(self.recent_returns) >= 2:
            scalars["diagnostics/return_variance"] = float(np.var(self.recent_returns))
        self.tb.scalars(scalars, step)

    def evaluation(self, mean: float, std: float, mean_length: float, episodes: int,
                   step: int) -> None:
        self.tb.scalars({"eval/mean_return": mean, "eval/std_return": std,
                         "eval/mean_length": mean_length}, step)
        log.info("eval at step %d: mean return %.1f +/- %.1f over %d episodes", step, mean,
                 std, episodes)

    def final_evaluation(self, mean: float, std: float, step: int) -> None:
        self.tb.scalars({"eval/final_mean_return": mean, "eval/final_std_return": std}, step)

    def progress(self, step: int, sps: float) -> None:
        self.console.update(step, sps, self._recent_mean)

    def _recent_mean(self) -> Optional[float]:
        return float(np.mean(self.recent_returns)) if self.recent_returns else None

    def finish(self) -> None:
        """HParams (one row per run in TensorBoard's HParams tab; the final scores are the
        ``eval/final_*`` scalars)."""
        self.tb.hparams(flatten_hparams(self.config), self.trial)
        self.tb.flush()

    def summary(self, metrics: Mapping[str, Any]) -> None:
        self.console.summary(metrics)

    def stop(self) -> None:
        """End the live progress display (before anything else is printed)."""
        self.console.stop()

    def close(self) -> None:
        self.console.stop()
        self.tb.close()


def _yaml(data: Dict[str, Any]) -> str:
    from omegaconf import OmegaConf

    return OmegaConf.to_yaml(OmegaConf.create(data))

