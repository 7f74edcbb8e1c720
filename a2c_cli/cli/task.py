"""The training task behind ``a2c-train``: a composed Hydra config in, metrics out.

Kept apart from :mod:`a2c_cli.cli.train` so that the console script imports torch and
gymnasium only once a run really starts (``a2c-train --help`` stays instant). Tests call
:func:`train` in-process with a small config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional

from omegaconf import DictConfig, OmegaConf

from a2c_cli.cli.console import RunConsole
from a2c_cli.cli.signals import GracefulStop, stop_requested
from a2c_cli.config import Config
from a2c_cli.errors import TrainingInterrupted
from a2c_cli.outputs.run_dir import RunLock, held
from a2c_cli.validation import check_environment, validate


def completed_job(run_dir: Path, config: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The metrics of a multirun job that already finished in ``run_dir`` with this config,
    so that running a sweep's command again runs only the jobs it lacks (after a lost
    worker, a preempted cluster job, Ctrl-C ...); None when the job has to run."""
    import json
    import logging

    from a2c_cli.cli.resume import check_same_config
    from a2c_cli.training.checkpoint import load_checkpoint

    metrics_file, final = run_dir / "metrics.json", run_dir / "checkpoints" / "final.pt"
    if not (metrics_file.is_file() and final.is_file()):
        return None
    metrics = json.loads(metrics_file.read_text())
    if metrics.get("status") != "completed":
        return None
    check_same_config(load_checkpoint(final)["config"], config, final)
    logging.getLogger("a2c_cli").info("job already completed in %s: not run again", run_dir)
    return metrics


def train(cfg: DictConfig, run_dir: Path, multirun: bool = False,
          validated: bool = False) -> Dict[str, Any]:
    """Validate ``cfg`` (unless the caller just did), train (or resume), evaluate and write
    outputs into ``run_dir``; returns the metrics."""
    config: Config = OmegaConf.to_object(cfg)  # type: ignore[assignment]
    if not validated:
        validate(config)
        check_environment(config)
    from a2c_cli.cli.resume import LAST, check_same_config
    from a2c_cli.training.build import build_trainer  # heavy: torch, gymnasium
    from a2c_cli.training.checkpoint import load_checkpoint

    signum = stop_requested()
    if signum is not None:  # an earlier job of this multirun was interrupted
        raise TrainingInterrupted(signum, 0, run_dir)
    config_dict: Dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore
    payload: Optional[Dict[str, Any]] = None
    if config.resume is not None:
        path = Path(config.resume) / LAST
        payload = load_checkpoint(path)
        check_same_config(payload["config"], config_dict, path)
    progress = "plain" if multirun and config.progress in ("auto", "bar") else config.progress
    console = RunConsole(progress, config.total_timesteps, config.log_interval_s)
    # a2c-train locked a single run's directory already; a multirun job locks its own here.
    lock = None if held(run_dir) else RunLock.acquire(run_dir)
    try:
        if multirun:
            done = completed_job(run_dir, config_dict)
            if done is not None:
                return done
        with GracefulStop():
            trainer = build_trainer(config, run_dir, config_dict, console, resume=payload,
                                    stop_requested=stop_requested)
            try:
                return trainer.train()
            finally:
                trainer.close()
    finally:
        if lock is not None:
            lock.release()
