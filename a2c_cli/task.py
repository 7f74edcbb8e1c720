"""The training task behind ``a2c-train``: a composed Hydra config in, metrics out.

Kept apart from :mod:`a2c_cli.cli` so that the console script imports torch and
gymnasium only once a run really starts (``a2c-train --help`` stays instant).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

from omegaconf import DictConfig, OmegaConf

from a2c_cli.config import Config
from a2c_cli.console import RunConsole
from a2c_cli.validation import validate


def train(cfg: DictConfig, run_dir: Path, multirun: bool = False) -> Dict[str, Any]:
    """Validate ``cfg``, train, evaluate and write the run's outputs into ``run_dir``."""
    config: Config = OmegaConf.to_object(cfg)  # type: ignore[assignment]
    validate(config)
    from a2c_cli.trainer import Trainer  # heavy: torch, gymnasium

    progress = "plain" if multirun and config.progress in ("auto", "bar") else config.progress
    console = RunConsole(progress, config.total_timesteps, config.log_interval_s)
    config_dict = OmegaConf.to_container(cfg, resolve=True)
    trainer = Trainer(config, run_dir, config_dict, console)  # type: ignore[arg-type]
    try:
        console.start(config_dict, str(run_dir))  # type: ignore[arg-type]
        return trainer.train()
    finally:
        trainer.close()
