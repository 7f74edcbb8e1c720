"""What a person sees in the terminal: config tree, live progress, summary table.

On a terminal the progress is a rich bar; elsewhere (CI, Slurm, multirun, pipes) it is a
plain log line every ``log_interval_s`` seconds, which also lands in ``train.log``.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, Callable, Mapping, Optional

from rich import get_console
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.tree import Tree

log = logging.getLogger("a2c_cli")


def config_tree(config: Mapping[str, Any], label: str = "config") -> Tree:
    """A rich tree of a nested config mapping."""
    tree = Tree(f"[bold]{label}")

    def add(node: Tree, mapping: Mapping[str, Any]) -> None:
        for key, value in mapping.items():
            if isinstance(value, Mapping) and value:
                add(node.add(f"[bold cyan]{key}"), value)
            else:
                node.add(f"[cyan]{key}[/]: {value}")

    add(tree, config)
    return tree


class RunConsole:
    """Progress reporting for one training run."""

    def __init__(self, mode: str, total_steps: int, interval_s: float,
                 console: Optional[Console] = None) -> None:
        self.console = console or get_console()  # shared with RichHandler
        if mode == "auto":
            mode = "bar" if sys.stdout.isatty() else "plain"
        self.mode = mode
        self.total = total_steps
        self.interval_s = interval_s
        self._last_plain = 0.0
        self._last_bar = 0.0
        self._progress: Optional[Progress] = None
        self._task: Any = None

    def start(self, config: Mapping[str, Any], run_dir: str, resumed_from: int = 0) -> None:
        if self.mode != "none":
            self.console.print(config_tree(config))
        log.info("run directory: %s", run_dir)
        if resumed_from:
            log.info("resuming from step %d (checkpoints/last.pt)", resumed_from)
        log.info("watch it live: tensorboard --logdir %s", run_dir)
        if self.mode == "bar":
            self._progress = Progress(
                TextColumn("[bold blue]training"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[sps]} SPS"), TextColumn("return {task.fields[ret]}"),
                TimeElapsedColumn(), TimeRemainingColumn(), console=self.console,
            )
            self._progress.start()
            self._task = self._progress.add_task("train", total=self.total, sps="-", ret="-",
                                                 completed=resumed_from)
        self._last_plain = time.perf_counter()

    def update(self, step: int, sps: float,
               recent_return: Callable[[], Optional[float]]) -> None:
        """Cheap to call every update: redraws/logs only when due, and only then asks for
        the recent return."""
        now = time.perf_counter()
        if self._progress is not None and now - self._last_bar > 0.25:
            self._last_bar = now
            self._progress.update(self._task, completed=step, sps=f"{sps:,.0f}",
                                  ret=_fmt(recent_return()))
        elif self.mode == "plain" and now - self._last_plain >= self.interval_s:
            self._last_plain = now
            log.info("step %d/%d (%.0f%%) | %.0f SPS | recent return %s", step, self.total,
                     100.0 * step / self.total, sps, _fmt(recent_return()))

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=self.total)
            self._progress.stop()
            self._progress = None

    def summary(self, metrics: Mapping[str, Any]) -> None:
        """The end-of-run table; also logged as one line for ``train.log``."""
        table = Table(title="a2c-train summary")
        table.add_column("metric")
        table.add_column("value", justify="right")
        for key in ("env_id", "final_eval_mean_return", "final_eval_std_return",
                    "final_eval_episodes", "target_return", "solved", "total_timesteps",
                    "wall_time_s", "sps"):
            value = metrics.get(key)
            table.add_row(key, f"{value:.2f}" if isinstance(value, float) else str(value))
        if self.mode != "none":
            self.console.print(table)
        log.info("summary: %s", ", ".join(f"{k}={metrics.get(k)}" for k in (
            "final_eval_mean_return", "final_eval_std_return", "solved", "wall_time_s", "sps")))


def _fmt(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.1f}"
