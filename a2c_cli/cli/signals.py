"""Graceful stop on Ctrl-C / SIGTERM (Slurm preemption), or when a sweep's launcher was
signalled (its stop file, :mod:`a2c_cli.cli.sweep_stop`).

The first signal asks the training loop to stop after the current update (it then saves
``last.pt`` and exits non-zero); a second one aborts at once. A stop is remembered for the
whole process, so later jobs of a multirun do not start.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any, Optional

from a2c_cli.cli.sweep_stop import read_stop_file

_requested: Optional[int] = None
#: The sweep's stop file this job watches (multirun jobs), and when to look next.
_stop_file: Optional[Path] = None
_next_look = 0.0
#: How often the stop file is looked at (a stat per look).
LOOK_EVERY_S = 0.2


def watch_stop_file(path: Optional[Path]) -> None:
    """Also stop when ``path`` appears (None: stop on signals only)."""
    global _stop_file, _next_look
    _stop_file, _next_look = path, 0.0


def stop_requested() -> Optional[int]:
    """The signal number of a pending stop request (this process's, or the one its sweep's
    launcher wrote into the stop file), if any."""
    global _next_look
    if _requested is not None or _stop_file is None:
        return _requested
    now = time.monotonic()
    if now < _next_look:
        return None
    _next_look = now + LOOK_EVERY_S
    return read_stop_file(_stop_file)


def slurm_requeue_signal() -> Optional[int]:
    """The signal submitit's Slurm jobs requeue on (USR2 unless SUBMITIT_PREEMPT_SIGNAL
    says otherwise; Slurm sends it before a time limit, ``scancel --signal`` on demand);
    None outside a submitit Slurm job."""
    if os.environ.get("SUBMITIT_EXECUTOR") != "slurm":
        return None
    return getattr(signal, "SIG" + os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2"), None)


class GracefulStop:
    """Context manager installing the SIGINT/SIGTERM handlers (main thread only).

    In a submitit Slurm job it also takes submitit's requeue signal: the run first stops
    and saves ``last.pt`` like on SIGTERM, then, on leaving, hands the signal to submitit's
    own handler, which requeues the job (``scontrol requeue``, at most
    ``hydra.launcher.max_num_timeout`` times for time limits) and exits; the requeued job
    resumes from that checkpoint (:mod:`a2c_cli.cli.sweep_jobs`)."""

    def __init__(self) -> None:
        self._previous: dict[int, Any] = {}
        requeue = slurm_requeue_signal()
        self.signals = (signal.SIGINT, signal.SIGTERM) + ((requeue,) if requeue else ())
        self._requeue = requeue

    def _handle(self, signum: int, frame: Optional[FrameType]) -> None:
        global _requested
        if _requested is not None:
            raise KeyboardInterrupt  # second signal: abort now
        _requested = signum

    def __enter__(self) -> GracefulStop:
        if threading.current_thread() is threading.main_thread():
            for sig in self.signals:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        previous = dict(self._previous)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
        handler = previous.get(self._requeue) if self._requeue else None
        if _requested is not None and _requested == self._requeue and callable(handler):
            handler(self._requeue, None)  # submitit: requeue this job, then exit
