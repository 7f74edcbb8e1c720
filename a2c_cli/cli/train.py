"""``a2c-train``: the Hydra entrypoint. Thin: composes the config, hands it to the task.

:func:`cli` (the console script) wraps the Hydra app: it expands ``resume=<run_dir>`` and
turns expected failures into one line on stderr with a non-zero exit code (see
:mod:`a2c_cli.cli.failures`); ``debug=true`` or ``HYDRA_FULL_ERROR=1`` shows tracebacks.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from a2c_cli.config import find_config_dir, register_configs

register_configs()

#: A single run's failure, carried out of the Hydra app to :func:`cli` (which reports it),
#: so that Hydra does not print its own "Error executing job" line as well.
_failure: list[Exception] = []
#: Set once :func:`prevalidate` has checked this single run's config (no need to repeat).
_prevalidated = False


@hydra.main(version_base="1.3", config_path=str(find_config_dir()), config_name="config")
def main(cfg: DictConfig) -> Optional[float]:
    """Train one run; returns the final evaluation mean (the objective for sweepers)."""
    from a2c_cli.cli.task import train

    hydra_cfg = HydraConfig.get()
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    try:
        metrics = train(cfg, Path(hydra_cfg.runtime.output_dir), multirun=multirun,
                        validated=_prevalidated and not multirun)
    except Exception as exc:
        if multirun:  # Hydra records the failure and runs the other jobs
            raise
        _failure.append(exc)
        return None
    return metrics["final_eval_mean_return"]


def prevalidate(overrides: list[str]) -> None:
    """Compose and check a plain single run before Hydra creates its run directory, so a
    bad value fails in the first second with nothing written. Multirun and Hydra's own
    flags are left to Hydra (each multirun job is checked as it starts)."""
    if any(arg.startswith("-") for arg in overrides):
        return
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from a2c_cli.validation import check_environment, validate

    with initialize_config_dir(config_dir=str(find_config_dir()), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    config = OmegaConf.to_object(cfg)
    validate(config)  # type: ignore[arg-type]
    check_environment(config)  # type: ignore[arg-type]
    global _prevalidated
    _prevalidated = True


def cli() -> None:
    """Console-script entry point of ``a2c-train``."""
    argv = sys.argv[1:]
    show_traceback = os.environ.get("HYDRA_FULL_ERROR") == "1" or \
        any(arg.lower() == "debug=true" for arg in argv)
    os.environ["HYDRA_FULL_ERROR"] = "1"  # let exceptions reach us; we present them
    try:
        if any(arg.startswith("resume=") for arg in argv):
            from a2c_cli.cli.resume import resume_argv

            sys.argv = [sys.argv[0], *resume_argv(argv)]
        prevalidate(sys.argv[1:])
        main()
        if _failure:
            raise _failure.pop()
        if _prevalidated:  # a plain single run, finished and written
            _exit_now(0)
    except KeyboardInterrupt:
        print("a2c-train: aborted.", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:
        _report(exc, show_traceback)


def _exit_now(code: int) -> None:
    """Exit without the interpreter's teardown of torch and its compiler stack (most of a
    second), once everything is written: the run's files are closed by then, and the
    streams and log handlers are flushed here. Single runs only: a multirun's launcher may
    still own worker processes that its exit handlers stop."""
    import logging

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _report(exc: Exception, show_traceback: bool) -> None:
    from a2c_cli.cli.failures import exit_with_error, signal_name
    from a2c_cli.errors import TrainingInterrupted

    if isinstance(exc, TrainingInterrupted):
        print(f"a2c-train: stopped by {signal_name(exc.signum)} at step {exc.step}; state saved "
              f"in {exc.run_dir / 'checkpoints' / 'last.pt'}.\nResume with: a2c-train "
              f"resume={exc.run_dir}", file=sys.stderr)
        sys.exit(128 + exc.signum)
    exit_with_error("a2c-train", exc, show_traceback)


if __name__ == "__main__":
    cli()
