"""Turning exceptions into the one line a user sees (and the exit code).

Bad input exits 2, a diverged run 3, a stopped run 128 + signal; anything else is a bug
and keeps its traceback. ``debug=true`` or ``HYDRA_FULL_ERROR=1`` shows every traceback.
"""

from __future__ import annotations

import signal
import sys
from typing import NoReturn, Optional, Tuple

from a2c_cli.errors import (
    EXIT_BAD_INPUT,
    EXIT_DIVERGED,
    EXIT_SWEEP_JOB_LOST,
    CheckpointError,
    ConfigError,
    RunDirectoryInUse,
    TrainingDiverged,
    UnsupportedEnvError,
)

#: Launcher errors for a job whose process was killed (SIGKILL, out of memory, a node lost):
#: joblib/loky's and submitit's, matched by name so that neither has to be imported.
LOST_WORKER_ERRORS = ("TerminatedWorkerError", "BrokenProcessPool", "UncompletedJobError",
                      "FailedJobError")


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in str(text).strip().splitlines() if ln.strip()]
    return lines[0] if lines else ""


def describe(exc: BaseException) -> Optional[Tuple[str, int]]:
    """(message, exit code) for an expected failure; None for a bug."""
    from hydra.errors import (
        ConfigCompositionException,
        MissingConfigException,
        OverrideParseException,
    )
    from omegaconf.errors import OmegaConfBaseException


    if isinstance(exc, (ConfigError, UnsupportedEnvError, CheckpointError, RunDirectoryInUse)):
        return str(exc), EXIT_BAD_INPUT
    if isinstance(exc, MissingConfigException):
        return _missing_option(str(exc)), EXIT_BAD_INPUT
    if isinstance(exc, OverrideParseException):
        return _first_line(str(exc)), EXIT_BAD_INPUT
    if isinstance(exc, (ConfigCompositionException, OmegaConfBaseException)):
        cause = exc.__cause__ if isinstance(exc.__cause__, OmegaConfBaseException) else exc
        what = _first_line(str(exc)).rstrip(".") if cause is not exc else ""
        message = _first_line(str(cause))
        key = getattr(cause, "full_key", None)
        text = f"{what}: {message}" if what and what != message else message
        if key and key not in text:
            text += f" (key: {key})"
        return text, EXIT_BAD_INPUT
    try:
        from gymnasium.error import Error as GymError
    except ImportError:  # pragma: no cover
        GymError = ()  # type: ignore[assignment,misc]
    if GymError and isinstance(exc, GymError):
        return _first_line(str(exc)), EXIT_BAD_INPUT
    if isinstance(exc, ValueError) and str(exc).startswith("Only one of --run"):
        return (f"{_first_line(str(exc))}: give one of them (e.g. a2c-train -m ... or "
                "a2c-train --info ...)"), EXIT_BAD_INPUT
    if isinstance(exc, TrainingDiverged):
        return str(exc), EXIT_DIVERGED
    if type(exc).__name__ in LOST_WORKER_ERRORS:
        return (f"a sweep job's process died ({_first_line(str(exc))[:200]}); the jobs that "
                "finished kept their results: run the same command again (same "
                "hydra.sweep.dir) to run only the missing jobs"), EXIT_SWEEP_JOB_LOST
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"cannot write or read {exc.filename}: {exc.strerror}", EXIT_BAD_INPUT
    return None


def exit_with_error(prog: str, exc: Exception, show_traceback: bool = False) -> NoReturn:
    """Print ``<prog>: error: <one line>`` and exit with its code; re-raise a bug (or
    everything, with ``show_traceback``) so its traceback shows."""
    described = None if show_traceback else describe(exc)
    if described is None:
        raise exc
    print(f"{prog}: error: {described[0]}", file=sys.stderr)
    sys.exit(described[1])


def _missing_option(text: str) -> str:
    """Hydra's "Could not find 'env/x'" + its list of available options, on one line."""
    lines = text.splitlines()
    where = _first_line(text).replace("In 'config': ", "")
    options: list[str] = []
    for i, line in enumerate(lines):
        if line.startswith("Available options"):
            for option in lines[i + 1:]:
                if not option.startswith("\t"):
                    break
                options.append(option.strip())
    return f"{where}; available: {', '.join(options)}" if options else where


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return str(signum)
