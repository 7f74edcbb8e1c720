"""``a2c-train``: the Hydra entrypoint. Thin: composes the config, hands it to the task.

:func:`cli` (the console script) wraps the Hydra app: it expands ``resume=<run_dir>`` and
turns expected failures into one line on stderr with a non-zero exit code (see
:mod:`a2c_cli.cli.failures`); ``debug=true`` or ``HYDRA_FULL_ERROR=1`` shows tracebacks.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Optional

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from a2c_cli.cli.sweep_callback import trial_name
from a2c_cli.cli.sweep_stop import STOP_FILE
from a2c_cli.config import find_config_dir, register_configs
from a2c_cli.errors import ConfigError, TrainingInterrupted

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
    stop_file = Path(hydra_cfg.sweep.dir) / STOP_FILE if multirun else None
    trial = trial_name(list(hydra_cfg.overrides.task), hydra_cfg.sweep.dir) if multirun else ""
    try:
        metrics = train(cfg, Path(hydra_cfg.runtime.output_dir), multirun=multirun,
                        validated=_prevalidated and not multirun, stop_file=stop_file,
                        trial=trial)
    except Exception as exc:
        if isinstance(exc, TrainingInterrupted) and stop_file is not None and \
                stop_file.exists():
            return None  # the launcher stops the sweep and reports every job in one line
        if multirun:  # Hydra records the failure and runs the other jobs
            raise
        _failure.append(exc)
        return None
    return metrics["final_eval_mean_return"]


def compose_config(overrides: list[str], with_hydra: bool = False) -> DictConfig:
    """conf/config.yaml with ``overrides``, composed as the Hydra app composes it, without
    running anything (``with_hydra``: keep the ``hydra`` node)."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(find_config_dir()), version_base="1.3"):
        return compose(config_name="config", overrides=overrides,
                       return_hydra_config=with_hydra)


def prevalidate(overrides: list[str]) -> None:
    """Compose and check a plain single run before Hydra creates its run directory, so a
    bad value fails in the first second with nothing written. Multirun and Hydra's own
    flags are left to Hydra (each multirun job is checked as it starts)."""
    if any(arg.startswith("-") for arg in overrides):
        return
    from omegaconf import OmegaConf

    from a2c_cli.validation import check_environment, validate

    config = OmegaConf.to_object(compose_config(overrides))
    validate(config)  # type: ignore[arg-type]
    check_environment(config)  # type: ignore[arg-type]
    global _prevalidated
    _prevalidated = True


def own_output_dir(overrides: list[str], resuming: bool) -> list[str]:
    """Make this process the only writer of its output directory, before Hydra writes to it.

    A plain run claims a fresh ``outputs/<date>/<time>[-N]`` (or checks that an explicit
    ``hydra.run.dir`` is not another run's) and locks it; ``resume=`` locks the run it
    continues, so a run still training is refused with nothing touched. A multirun gets a
    fresh sweep directory; each job locks its own directory when it starts (the task).
    Returns the overrides with the directory made explicit.
    """
    from a2c_cli.outputs.run_dir import RunLock, claim_new_run_dir, is_run_dir

    stamp = time.strftime("%Y-%m-%d"), time.strftime("%H-%M-%S")
    if any(arg in HYDRA_INFO_FLAGS or arg.startswith("--cfg") for arg in overrides):
        return overrides  # Hydra only prints
    if any(arg in ("-m", "--multirun") for arg in overrides):
        if _given(overrides, "hydra.sweep.dir") is None and not _fixed_sweep_dir(overrides):
            sweep = claim_new_run_dir(Path("outputs", "multirun", *stamp))
            return [*overrides, f"hydra.sweep.dir={sweep}"]
        return overrides
    if not _prevalidated:  # Hydra's own flags (--help, --cfg ...): nothing is written
        return overrides
    given = _given(overrides, "hydra.run.dir")
    if given is not None and "${" in given:
        return overrides  # resolved by Hydra; the task locks the directory it gets
    if resuming:
        assert given is not None  # resume_argv sets it to the run's directory
        RunLock.acquire(Path(given), what="resume: run directory")
        return overrides
    if given is None:
        run_dir = claim_new_run_dir(Path("outputs", *stamp))
        overrides = [*overrides, f"hydra.run.dir={run_dir}"]
    else:
        run_dir = Path(given)
        if run_dir.is_dir() and is_run_dir(run_dir):
            raise ConfigError(f"hydra.run.dir={given} is another run's directory: give a new "
                              f"one, or continue that run with resume={given}.")
    RunLock.acquire(run_dir)
    return overrides


def _fixed_sweep_dir(overrides: list[str]) -> bool:
    """Whether a ``sweep=<name>`` config sets its own (fixed) sweep directory, as a
    resumable suite does; then that directory is used as it is."""
    name = _given(overrides, "sweep")
    if name is None or "," in name:
        return False
    from omegaconf import OmegaConf

    cfg = compose_config([f"sweep={name}"], with_hydra=True)
    return "${now:" not in str(OmegaConf.to_container(cfg.hydra.sweep)["dir"])


#: Hydra flags that print something and run nothing.
HYDRA_INFO_FLAGS = ("--help", "-h", "--hydra-help", "--info", "-i", "-c", "--shell-completion",
                    "-sc", "--version")


def _given(overrides: list[str], key: str) -> Optional[str]:
    """The value of the last ``key=value`` override (quotes removed), or None."""
    values = [arg.split("=", 1)[1] for arg in overrides if arg.startswith(key + "=")]
    return values[-1].strip("'\"") if values else None


def cli() -> None:
    """Console-script entry point of ``a2c-train``."""
    argv = sys.argv[1:]
    show_traceback = os.environ.get("HYDRA_FULL_ERROR") == "1" or \
        any(arg.lower() == "debug=true" for arg in argv)
    os.environ["HYDRA_FULL_ERROR"] = "1"  # let exceptions reach us; we present them
    try:
        resuming = any(arg.startswith("resume=") for arg in argv)
        if resuming:
            from a2c_cli.cli.resume import resume_argv

            sys.argv = [sys.argv[0], *resume_argv(argv)]
        prevalidate(sys.argv[1:])
        sys.argv = [sys.argv[0], *own_output_dir(sys.argv[1:], resuming)]
        try:
            main()
        finally:
            _end_of_a_stopped_sweep()
        if _failure:
            raise _failure.pop()
        if _prevalidated:  # a plain single run, finished and written
            _exit_now(0)
    except KeyboardInterrupt:
        print("a2c-train: aborted.", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:
        _report(exc, show_traceback)


def _end_of_a_stopped_sweep() -> None:
    """A sweep whose launcher was signalled: once its jobs have stopped, leave no process
    of it behind, say what happened to the jobs and exit 128 + the signal."""
    from a2c_cli.cli import sweep_stop

    signum = sweep_stop.requested()
    if signum is None:
        return
    print(sweep_stop.summary(signum), file=sys.stderr)
    sys.exit(128 + signum)  # the interpreter's exit stops the launcher's pool workers


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
