"""Graceful stop on Ctrl-C / SIGTERM (Slurm preemption).

The first signal asks the training loop to stop after the current update (it then saves
``last.pt`` and exits non-zero); a second one aborts at once. A stop is remembered for the
whole process, so later jobs of a multirun do not start.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any, Optional

_requested: Optional[int] = None


def stop_requested() -> Optional[int]:
    """The signal number of a pending stop request, if any."""
    return _requested


class GracefulStop:
    """Context manager installing the SIGINT/SIGTERM handlers (main thread only)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Optional[FrameType]) -> None:
        global _requested
        if _requested is not None:
            raise KeyboardInterrupt  # second signal: abort now
        _requested = signum

    def __enter__(self) -> GracefulStop:
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
