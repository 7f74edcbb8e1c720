"""Every exception type a2c-cli raises on purpose. A leaf module: it imports nothing of
ours, so any layer can raise these without import cycles. How they are shown to a user
(one line, exit code) is :mod:`a2c_cli.cli.failures`."""

from __future__ import annotations

from pathlib import Path

EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 3
EXIT_SWEEP_JOB_LOST = 4


def first_line(exc: BaseException) -> str:
    """An exception's message cut to its first line ("" when it has none), for one-line
    errors that quote a library's."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


class ConfigError(ValueError):
    """A config value that is out of range, not an allowed choice, or unusable here."""


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable or not one of ours."""


class RunDirectoryInUse(ValueError):
    """Another process trains in (or owns) the run directory this one would write."""


class UnsupportedEnvError(ValueError):
    """The environment's spaces are not ones this A2C supports."""


class EnvPoolUnavailable(ImportError):
    """``env.backend=envpool`` without the envpool package installed."""


class NonFiniteError(ArithmeticError):
    """A loss or gradient became NaN/inf; the optimizer step was not taken."""

    def __init__(self, quantity: str) -> None:
        super().__init__(f"non-finite {quantity}")
        self.quantity = quantity

    def __reduce__(self):  # noqa: ANN204 - picklable across launcher processes
        return type(self), (self.quantity,)


class GraphContractError(RuntimeError):
    """Code captured as a CUDA graph broke a rule of CUDA graphs (an internal error: a bug
    of a backend, never of a config)."""


class TrainingInterrupted(Exception):
    """Ctrl-C or SIGTERM: the run stopped after an update and saved ``last.pt``."""

    def __init__(self, signum: int, step: int, run_dir: Path) -> None:
        super().__init__(f"stopped by signal {signum} at step {step}")
        self.signum, self.step, self.run_dir = signum, step, run_dir

    def __reduce__(self):  # noqa: ANN204 - picklable across launcher processes
        return type(self), (self.signum, self.step, self.run_dir)


class TrainingDiverged(Exception):
    """A non-finite loss, gradient or parameter; the run stopped without saving it."""
