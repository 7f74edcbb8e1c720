"""``a2c-report``: one table for a sweep: which setting won, across seeds.

    a2c-report outputs/multirun/2026-11-24/20-00-00      # a sweep
    a2c-report outputs                                    # every run below

Finds every run directory (``.hydra/config.yaml``) below the path, groups runs whose
configs differ only by ``seed``, and prints per group: the settings that tell the groups
apart, seeds, final evaluation mean +/- std across seeds, solved count, steps and time,
best first. Failed, diverged and unfinished runs are listed with their status, never
dropped. Writes ``report.csv`` and ``report.png`` (learning curves, mean and spread across
seeds) into the given directory.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from a2c_cli.config import flatten_dict

#: Config keys that do not define a setting (how a run is shown, stored or which seed).
IGNORED = ("seed", "resume", "progress", "log_interval_s", "log_every_steps", "debug", "plot",
           "device", "torch_threads", "checkpoint.", "video.")


@dataclass
class Run:
    path: Path
    config: Dict[str, Any]
    metrics: Optional[Dict[str, Any]]

    @property
    def status(self) -> str:
        return self.metrics.get("status", "unknown") if self.metrics else "unfinished"

    @property
    def score(self) -> Optional[float]:
        if self.metrics is None or self.status != "completed":
            return None
        value = self.metrics.get("final_eval_mean_return")
        return None if value is None or not math.isfinite(value) else float(value)


@dataclass
class Group:
    setting: Dict[str, Any]
    runs: List[Run] = field(default_factory=list)

    @property
    def scores(self) -> List[float]:
        return [r.score for r in self.runs if r.score is not None]

    @property
    def mean(self) -> Optional[float]:
        s = self.scores
        return sum(s) / len(s) if s else None

    @property
    def std(self) -> Optional[float]:
        s, m = self.scores, self.mean
        return math.sqrt(sum((x - m) ** 2 for x in s) / len(s)) if s and m is not None else None

    def label(self, keys: List[str]) -> str:
        return ", ".join(f"{k}={self.setting.get(k)}" for k in keys) or "(one setting)"


def _ignored(key: str) -> bool:
    return any(key == i or (i.endswith(".") and key.startswith(i)) for i in IGNORED)


def find_runs(root: Path) -> List[Run]:
    """Every a2c-train run directory at or below ``root``."""
    from omegaconf import OmegaConf

    runs = []
    for cfg_file in sorted(root.rglob(".hydra/config.yaml")):
        run_dir = cfg_file.parent.parent
        config = OmegaConf.to_container(OmegaConf.load(cfg_file), resolve=False)
        metrics_file = run_dir / "metrics.json"
        metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else None
        flat = {k: str(v) if isinstance(v, list) else v
                for k, v in flatten_dict(config).items()}  # type: ignore[arg-type]
        runs.append(Run(run_dir, flat, metrics))
    return runs


def group_runs(runs: List[Run]) -> Tuple[List[Group], List[str]]:
    """Groups of runs that differ only by ignored keys (seed, ...), best mean first, and the
    keys whose values tell the groups apart."""
    groups: Dict[Tuple[Tuple[str, str], ...], Group] = {}
    for run in runs:
        setting = {k: v for k, v in run.config.items() if not _ignored(k)}
        key = tuple(sorted((k, repr(v)) for k, v in setting.items()))
        groups.setdefault(key, Group(setting)).runs.append(run)
    all_keys = sorted({k for g in groups.values() for k in g.setting})
    varying = [k for k in all_keys
               if len({repr(g.setting.get(k)) for g in groups.values()}) > 1]
    ordered = sorted(groups.values(), key=lambda g: -math.inf if g.mean is None else g.mean,
                     reverse=True)
    return ordered, varying


def rows(groups: List[Group], varying: List[str]) -> List[Dict[str, Any]]:
    """One row per group: what the table and report.csv show."""
    out = []
    for g in groups:
        seeds = sorted(r.config.get("seed") for r in g.runs)
        solved = sum(bool(r.metrics and r.metrics.get("solved")) for r in g.runs)
        done = [r for r in g.runs if r.metrics and r.status == "completed"]
        problems = [f"{r.path.name}: {r.status}" for r in g.runs if r.status != "completed"]
        out.append({
            "setting": g.label(varying), "runs": len(g.runs), "seeds": seeds,
            "mean": g.mean, "std": g.std, "solved": f"{solved}/{len(g.runs)}",
            "steps": _avg([r.metrics["total_timesteps"] for r in done]),
            "frames": _avg([r.metrics.get("frames", r.metrics["total_timesteps"]) for r in done]),
            "wall_time_s": _avg([r.metrics["wall_time_s"] for r in done]),
            "not_completed": "; ".join(problems),
        })
    return out


def _avg(values: List[float]) -> Optional[float]:
    return sum(values) / len(values) if values else None


def write_csv(path: Path, table: List[Dict[str, Any]]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(table[0]))
        writer.writeheader()
        for row in table:
            writer.writerow({k: (" ".join(map(str, v)) if isinstance(v, list) else v)
                             for k, v in row.items()})


def plot_groups(path: Path, groups: List[Group], varying: List[str], points: int = 200) -> None:
    """Each group's episodic return (rolling mean) on a common step grid: the mean across
    seeds and the min-max band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from a2c_cli.outputs.plots import read_scalars, rolling_mean

    fig, ax = plt.subplots(figsize=(11, 6))
    for g in groups:
        curves = []
        for run in g.runs:
            series = read_scalars(run.path).get("charts/episodic_return")
            if series is not None and len(series[0]) > 1:
                curves.append((series[0], rolling_mean(series[1])))
        if not curves:
            continue
        end = min(int(steps[-1]) for steps, _ in curves)
        grid = np.linspace(0, end, points)
        ys = np.stack([np.interp(grid, steps, values) for steps, values in curves])
        (line,) = ax.plot(grid, ys.mean(0), lw=2, label=f"{g.label(varying)} (n={len(ys)})")
        ax.fill_between(grid, ys.min(0), ys.max(0), color=line.get_color(), alpha=0.2)
    ax.set_xlabel("env steps")
    ax.set_ylabel("episodic return (rolling mean of 50)")
    ax.set_title("a2c-report: mean across seeds, band = min..max")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(root: Path, plot: bool = True) -> List[Dict[str, Any]]:
    """Print the table; write report.csv (and report.png) into ``root``."""
    from rich.console import Console
    from rich.table import Table

    from a2c_cli.errors import CheckpointError

    if not root.is_dir():
        raise CheckpointError(f"{root} is not a directory (give a sweep or outputs directory).")
    runs = find_runs(root)
    if not runs:
        raise CheckpointError(f"no a2c-train runs (.hydra/config.yaml) below {root}.")
    groups, varying = group_runs(runs)
    table_rows = rows(groups, varying)
    table = Table(title=f"a2c-report: {len(runs)} runs in {len(groups)} settings, best first")
    for column in ("setting", "seeds", "final eval (mean ± std over seeds)", "solved",
                   "agent steps", "time (s)", "not completed"):
        text = column in ("setting", "not completed")
        # fold, never cut: every setting is shown in full, however narrow the terminal
        table.add_column(column, justify="left" if text else "right",
                         overflow="fold" if text else "ellipsis", no_wrap=not text)
    for row in table_rows:
        d = 1 if row["mean"] is None else score_digits(row["mean"])
        score = "-" if row["mean"] is None else f"{row['mean']:.{d}f} ± {row['std']:.{d}f}"
        table.add_row(row["setting"], ",".join(map(str, row["seeds"])), score, row["solved"],
                      budget_text(row["steps"], row["frames"]),
                      "-" if row["wall_time_s"] is None else f"{row['wall_time_s']:.0f}",
                      row["not_completed"])
    # Piped or redirected (report.txt, CI logs): no terminal width to fit, so the table gets
    # the width it needs instead of rich's default 80 columns.
    console = Console() if sys.stdout.isatty() else Console(width=100_000)
    console.print(table)
    write_csv(root / "report.csv", table_rows)
    console.print(f"wrote {root / 'report.csv'}")
    if plot:
        plot_groups(root / "report.png", groups, varying)
        console.print(f"wrote {root / 'report.png'}")
    benchmark(root, groups, console, plot)
    return table_rows


def budget_text(steps: Optional[float], frames: Optional[float]) -> str:
    """Agent steps, and the frames they played where that differs (Atari: 4 per step)."""
    if steps is None:
        return "-"
    if frames is None or frames == steps:
        return f"{steps:,.0f}"
    return f"{steps:,.0f} ({frames:,.0f} frames)"


def _num(value: Optional[float], digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def score_digits(scale: float) -> int:
    """Decimals for scores of this magnitude: one for returns in the tens and up, three
    for returns of a few units or less (FrozenLake's success rate, MiniGrid's 0-1)."""
    return 1 if abs(scale) >= 10 else 3


def benchmark(root: Path, groups: List[Group], console: Any, plot: bool) -> None:
    """Per-task IQM with confidence intervals, normalised scores and their aggregate, when
    the runs hold one setting per task (a benchmark suite: tasks x seeds)."""
    from rich.table import Table

    from a2c_cli.cli import report_stats as st

    tasks = [st.task_name(g.setting) for g in groups]
    if len(set(tasks)) != len(tasks):
        return  # several settings of one task: a hyperparameter sweep, not a benchmark
    missing = st.available()
    if missing:
        console.print(f"benchmark statistics skipped: {missing}")
        return
    refs = st.load_references()
    per_task = {task: g.scores for task, g in zip(tasks, groups, strict=True) if g.scores}
    if not per_task:
        return
    scored = {task: [r.metrics for r in g.runs if r.score is not None and r.metrics]
              for task, g in zip(tasks, groups, strict=True) if g.scores}
    budgets = {task: max(m["total_timesteps"] for m in ms) for task, ms in scored.items()}
    bench_rows = st.benchmark_rows(per_task, refs, budgets)
    for row in bench_rows:
        walls = [m["wall_time_s"] for m in scored[row["task"]]]
        row["wall_time_s_min"], row["wall_time_s_max"] = min(walls), max(walls)
    table = Table(title="benchmark: final 100-episode evaluations; IQM with 95% stratified-"
                        "bootstrap CI (rliable); normalised 0 = random, 1 = rl-zoo A2C")
    for column in ("task", "runs", "mean ± std", "IQM [95% CI]", "agent steps (ours / rl-zoo)",
                   "random", "rl-zoo A2C", "normalised IQM", "wall time per run (s)"):
        table.add_column(column, justify="left" if column == "task" else "right")
    for r in bench_rows:
        d = score_digits(r["mean"])
        ref_steps = "" if r["rl_zoo_steps"] is None else f" / {r['rl_zoo_steps']:,}"
        table.add_row(r["task"], str(r["runs"]), f"{r['mean']:.{d}f} ± {r['std']:.{d}f}",
                      f"{r['iqm']:.{d}f} [{r['ci_low']:.{d}f}, {r['ci_high']:.{d}f}]",
                      f"{r['agent_steps']:,}{ref_steps}",
                      _num(r["random"], d), _num(r["rl_zoo_a2c"], d),
                      _num(r["normalized_iqm"], 2),
                      f"{r['wall_time_s_min']:.0f}-{r['wall_time_s_max']:.0f}")
    console.print(table)
    for r in bench_rows:
        if r["rl_zoo_steps"] is not None and not r["within_budget"]:
            console.print(f"{r['task']}: not compared with rl-zoo's A2C: these runs trained "
                          f"{r['agent_steps']:,} agent steps, rl-zoo's {r['rl_zoo_steps']:,} "
                          f"(set total_timesteps to at most {r['rl_zoo_steps']:,} to compare)")
    write_csv(root / "benchmark.csv", bench_rows)
    console.print(f"wrote {root / 'benchmark.csv'}")
    comparable = {r["task"]: refs[r["task"]] for r in bench_rows if r["within_budget"]}
    normalized = st.aggregate(per_task, comparable)
    if normalized is None:
        return
    matrix, names = normalized
    iqm, lo, hi = st.iqm_ci({"all": matrix})["all"]
    console.print(f"aggregate normalised IQM over {len(names)} tasks ({matrix.shape[0]} runs "
                  f"each): {iqm:.2f} [95% CI {lo:.2f}, {hi:.2f}] (1 = rl-zoo A2C)")
    if plot:
        st.plot_profile(root / "benchmark_profile.png", matrix)
        console.print(f"wrote {root / 'benchmark_profile.png'}")


def main(argv: Optional[List[str]] = None) -> None:
    """Console-script entry point of ``a2c-report``."""
    parser = argparse.ArgumentParser(prog="a2c-report", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path, help="a sweep directory, or outputs/")
    parser.add_argument("--no-plot", action="store_true", help="skip report.png")
    args = parser.parse_args(argv)
    try:
        report(args.path, plot=not args.no_plot)
    except Exception as exc:
        from a2c_cli.cli.failures import exit_with_error

        exit_with_error("a2c-report", exc)


if __name__ == "__main__":
    main()
