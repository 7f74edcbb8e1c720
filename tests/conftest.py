"""Shared fixtures: the real composed config, shrunk for quick runs."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterable

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from a2c_cli.cli import find_config_dir
from a2c_cli.config import Config

REPO = Path(__file__).resolve().parents[1]
A2C_TRAIN = str(Path(sys.executable).with_name("a2c-train"))


def compose_config(overrides: Iterable[str] = ()) -> DictConfig:
    """Compose conf/config.yaml exactly as a2c-train does, with overrides."""
    with initialize_config_dir(config_dir=str(find_config_dir()), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def to_config(cfg: DictConfig) -> Config:
    return OmegaConf.to_object(cfg)  # type: ignore[return-value]


@pytest.fixture
def subprocess_env() -> dict:
    """Environment for a2c-train subprocesses: no colour, headless, one thread."""
    env = dict(os.environ)
    env.update({"NO_COLOR": "1", "SDL_VIDEODRIVER": "dummy", "OMP_NUM_THREADS": "1",
                "COLUMNS": "200"})
    return env
