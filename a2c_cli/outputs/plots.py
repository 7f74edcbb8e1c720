"""``learning_curve.png``: four diagnostic panels, from a run's TensorBoard events.

Panels: episodic return with its rolling mean, evaluation means with std bars and the
target line; gradient norm; policy and value losses; rolling return variance.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

Series = Tuple[np.ndarray, np.ndarray]
ROLLING = 50


def read_scalars(run_dir: Path) -> Dict[str, Series]:
    """Every scalar tag of the run's event files as (steps, values)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    # Its reader logs "No path found after <file>" at INFO at the end of every event file.
    logging.getLogger("tensorboard").setLevel(logging.WARNING)
    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    acc.Reload()
    out: Dict[str, Series] = {}
    for tag in acc.Tags()["scalars"]:
        events = acc.Scalars(tag)
        out[tag] = (np.array([e.step for e in events]), np.array([e.value for e in events]))
    return out


def rolling_mean(values: np.ndarray, window: int = ROLLING) -> np.ndarray:
    """Mean of the last ``window`` values at each point (shorter at the start)."""
    csum = np.cumsum(np.insert(values.astype(np.float64), 0, 0.0))
    idx = np.arange(1, len(values) + 1)
    lo = np.maximum(idx - window, 0)
    return (csum[idx] - csum[lo]) / (idx - lo)


def plot_learning_curve(run_dir: Path, out: Optional[Path] = None) -> Path:
    """Write the run's learning-curve figure; returns its path."""
    # The object API with the Agg canvas: no pyplot state machine to import or tear down,
    # and a fixed layout instead of tight_layout's text measuring (the plot ends every run).
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    s = read_scalars(run_dir)
    metrics_file = run_dir / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    target = metrics.get("target_return")
    title = f"{metrics.get('env_id', run_dir.name)} - seed {metrics.get('seed', '?')}"

    fig = Figure(figsize=(14, 9))
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 2)
    fig.subplots_adjust(left=0.05, right=0.95, bottom=0.06, top=0.92, wspace=0.18, hspace=0.25)
    fig.suptitle(f"A2C learning curve: {title}")
    ax = axes[0, 0]
    if "charts/episodic_return" in s:
        steps, values = s["charts/episodic_return"]
        ax.plot(steps, values, ".", ms=2, alpha=0.25, color="tab:blue", label="episode")
        ax.plot(steps, rolling_mean(values), color="tab:blue", lw=2,
                label=f"rolling mean ({ROLLING})")
    if "eval/mean_return" in s:
        steps, means = s["eval/mean_return"]
        stds = _aligned(s.get("eval/std_return"), steps)
        ax.errorbar(steps, means, yerr=stds, fmt="o", color="tab:orange", capsize=3,
                    label="evaluation (mean ± std)")
    if target is not None:
        ax.axhline(target, color="tab:green", ls="--", label=f"target ({target:g})")
    _decorate(ax, "Return", "episodic return")
    _plot_tags(axes[0, 1], s, ["losses/grad_norm"], "Gradient norm (before clipping)")
    _plot_tags(axes[1, 0], s, ["losses/policy_loss"], "Loss components")
    if "losses/value_loss" in s:  # a different scale: its own axis
        twin = axes[1, 0].twinx()
        twin.plot(*s["losses/value_loss"], lw=1, color="tab:orange", alpha=0.8,
                  label="value_loss (right)")
        twin.legend(fontsize=8, loc="upper center")
    _plot_tags(axes[1, 1], s, ["diagnostics/return_variance"],
               f"Return variance (last {ROLLING} episodes)")
    path = out or run_dir / "learning_curve.png"
    fig.savefig(path, dpi=100)
    return path


def _aligned(series: Optional[Series], steps: np.ndarray) -> Optional[np.ndarray]:
    if series is None or len(series[0]) != len(steps):
        return None
    return series[1]


def _plot_tags(ax, s: Dict[str, Series], tags: List[str], title: str) -> None:  # noqa: ANN001
    for tag in tags:
        if tag in s:
            steps, values = s[tag]
            ax.plot(steps, values, lw=1, label=tag.split("/")[-1])
    _decorate(ax, title, None)


def _decorate(ax, title: str, ylabel: Optional[str]) -> None:  # noqa: ANN001
    ax.set_title(title)
    ax.set_xlabel("env steps")
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
