"""What a multirun job does with its directory when an earlier session left a run there,
so that running a sweep's command again finishes the sweep without redoing work:

* ``skip``: the run completed (or diverged) with this config: not run again;
* ``resume``: the run was interrupted or killed and its ``last.pt`` is usable: it continues
  from there exactly as ``resume=`` does (same config check, TensorBoard steps continued,
  env seeds derived from the step); a completed run asked for more steps continues too;
* ``fresh``: a partial run without a usable checkpoint: its files are moved aside (into
  ``.stale/<time>/``) and the job starts from step 0, so one directory never holds two
  sessions' events with overlapping steps;
* ``new``: nothing there yet.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional

from a2c_cli.errors import CheckpointError

STALE = ".stale"
#: What a session writes into its run directory, besides Hydra's files and the log.
SESSION_FILES = ("events.out.tfevents.*", "checkpoints", "metrics.json", "learning_curve.png",
                 "videos")


@dataclass
class JobPlan:
    action: str  # new | skip | resume | fresh
    metrics: Optional[Dict[str, Any]] = None
    payload: Optional[Dict[str, Any]] = None
    note: str = ""


def plan_job(run_dir: Path, config: Dict[str, Any]) -> JobPlan:
    """Decide (and, for ``fresh``, do the moving) for the job about to run in ``run_dir``
    with ``config``; a checkpoint of a different config is refused (CheckpointError)."""
    from a2c_cli.cli.resume import LAST, check_same_config
    from a2c_cli.training.checkpoint import load_checkpoint

    metrics = _read_metrics(run_dir / "metrics.json")
    status = metrics.get("status") if metrics else None
    final, last = run_dir / "checkpoints" / "final.pt", run_dir / LAST
    if status == "completed" and final.is_file():
        check_same_config(load_checkpoint(final)["config"], config, final)
        if metrics is not None and metrics.get("total_timesteps", 0) >= _steps(config):
            return JobPlan("skip", metrics=metrics, note="completed earlier: not run again")
    if status == "diverged" and last.is_file():
        check_same_config(load_checkpoint(last)["config"], config, last)
        return JobPlan("skip", metrics=metrics,
                       note="diverged earlier: not run again (remove its directory to retry)")
    reason = "no checkpoint"
    if last.is_file():
        try:
            payload = load_checkpoint(last)
        except CheckpointError as exc:
            reason = str(exc)
        else:
            check_same_config(payload["config"], config, last)
            what = {"completed": "a completed run asked for more steps",
                    "interrupted": "an interrupted run"}.get(str(status), "a killed run")
            return JobPlan("resume", payload=payload,
                           note=f"{what}: resumed from step {payload['global_step']} "
                                f"({last})")
    moved = _move_aside(run_dir)
    if moved is None:
        return JobPlan("new")
    return JobPlan("fresh", note=f"an earlier session left a partial run ({reason}): started "
                                 f"afresh, its files moved to {moved}")


def _steps(config: Dict[str, Any]) -> int:
    """The env steps a run of ``config`` trains (whole rollouts)."""
    batch = int(config["num_envs"]) * int(config["algo"]["n_steps"])
    return int(config["total_timesteps"]) // batch * batch


def _read_metrics(path: Path) -> Optional[Dict[str, Any]]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _move_aside(run_dir: Path) -> Optional[Path]:
    """Move an earlier session's files into ``.stale/<time>/``; None if there were none."""
    found = [p for pattern in SESSION_FILES for p in run_dir.glob(pattern)]
    if not found:
        return None
    target = run_dir / STALE / time.strftime("%Y-%m-%d_%H-%M-%S")
    suffix = 0
    while target.exists():
        suffix += 1
        target = target.with_name(f"{target.name.split('+')[0]}+{suffix}")
    target.mkdir(parents=True)
    for path in found:
        path.rename(target / path.name)
    return target
