"""The Hydra callback of every multirun (``hydra.callbacks`` in conf/config.yaml), run in
the launcher as the sweep starts: it arms the clean stop on signals
(:mod:`a2c_cli.cli.sweep_stop`) and tells the jobs which keys the sweep varies, so that
each names its HParams trial by them (``algo.lr=0.001,seed=1 @ <sweep>``) instead of by
a long path that TensorBoard cuts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, List

from hydra.experimental.callback import Callback

from a2c_cli.cli import sweep_stop

#: Inherited by the jobs (loky workers, submitit's processes and sbatch's environment).
SWEPT_KEYS_ENV = "A2C_SWEPT_KEYS"


class SweepCallback(Callback):
    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        sweep_stop.arm(Path(str(config.hydra.sweep.dir)))
        os.environ[SWEPT_KEYS_ENV] = ",".join(swept_keys(config))


def swept_keys(config: Any) -> List[str]:
    """The keys (and config groups) a multirun varies: comma lists, ``range(...)`` and the
    like on the command line, and a sweeper's ``params`` (sweep=... configs, Optuna)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(list(config.hydra.overrides.task))
    keys = [o.get_key_element().lstrip("+~") for o in parsed if o.is_sweep_override()]
    params = config.hydra.sweeper.get("params") or {}
    return sorted({*keys, *(str(k) for k in params)})


def trial_name(job_overrides: List[str], sweep_dir: str) -> str:
    """A job's HParams trial name: its values of the swept keys, then its sweep."""
    keys = set(filter(None, os.environ.get(SWEPT_KEYS_ENV, "").split(",")))
    mine = [o for o in job_overrides if o.split("=", 1)[0].lstrip("+~") in keys]
    return f"{','.join(mine)} @ {Path(sweep_dir).name}" if mine else ""
