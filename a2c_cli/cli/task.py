"""The training task behind ``a2c-train``: a composed Hydra config in, metrics out.

Kept apart from :mod:`a2c_cli.cli.train` so that the console script imports torch and
gymnasium only once a run really starts (``a2c-train --help`` stays instant). Tests call
:func:`train` in-process with a small config.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, Optional

from omegaconf import DictConfig, OmegaConf

from a2c_cli.cli.console import RunConsole
from a2c_cli.cli.signals import GracefulStop, stop_requested, watch_stop_file
from a2c_cli.config import Config
from a2c_cli.errors import TrainingInterrupted
from a2c_cli.outputs.run_dir import RunLock, held
from a2c_cli.validation import check_environment, log_env_checker, validate


def train(cfg: DictConfig, run_dir: Path, multirun: bool = False,
          validated: bool = False, stop_file: Optional[Path] = None,
          trial: str = "") -> Dict[str, Any]:
    """Validate ``cfg`` (unless the caller just did), train (or resume), evaluate and write
    outputs into ``run_dir``; returns the metrics. ``stop_file``: a multirun's, whose
    appearance stops the job as a signal would (the launcher was signalled); ``trial``:
    the run's name in TensorBoard's HParams table ("" = its path)."""
    config: Config = OmegaConf.to_object(cfg)  # type: ignore[assignment]
    if not validated:
        validate(config)
        check_environment(config)
    from a2c_cli.cli.resume import LAST, check_same_config
    from a2c_cli.training.build import build_trainer  # heavy: torch, gymnasium
    from a2c_cli.training.checkpoint import load_checkpoint

    if config.env.check:
        log_env_checker(config)
    watch_stop_file(stop_file)
    signum = stop_requested()
    if signum is not None:  # the sweep was stopped: this job does not start
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
        if multirun:  # an earlier session of this job: skip, resume or start afresh
            from a2c_cli.cli.sweep_jobs import plan_job

            plan = plan_job(run_dir, config_dict)
            if plan.note:
                logging.getLogger("a2c_cli").info("job %s: %s", run_dir.name, plan.note)
            if plan.action == "skip":
                assert plan.metrics is not None
                return plan.metrics
            if plan.action == "resume":
                payload = plan.payload
        with GracefulStop():
            trainer = build_trainer(config, run_dir, config_dict, console, resume=payload,
                                    stop_requested=stop_requested, trial=trial)
            try:
                return trainer.train()
            finally:
                trainer.close()
    finally:
        if lock is not None:
            lock.release()
