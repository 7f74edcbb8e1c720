"""Run directories belong to one process: claimed atomically, locked while a run writes.

* :func:`claim_new_run_dir` creates a fresh directory with ``mkdir`` (atomic: of several
  processes asking for the same name, one gets it), adding ``-1``, ``-2`` ... on collision,
  so runs started in the same second never share a directory.
* :class:`RunLock` is an exclusive ``flock`` on ``<run_dir>/.a2c.lock`` held for the life of
  the process that trains there. The kernel drops it when that process ends, however it
  ends (SIGKILL and power loss included), so a lock left by a dead run is simply taken
  over; the file also records who holds it, for the error message.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Dict, Optional

from a2c_cli.errors import RunDirectoryInUse

try:
    import fcntl
except ImportError:  # Windows: no flock; runs are not locked there
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = ".a2c.lock"
#: Locks this process holds, by resolved run directory (re-entrant within a process).
_held: Dict[Path, RunLock] = {}


def is_run_dir(path: Path) -> bool:
    """Whether ``path`` holds (or held) an a2c-train run."""
    return any((path / name).exists() for name in (".hydra", "metrics.json", "checkpoints",
                                                    LOCK_FILE))


def claim_new_run_dir(base: Path, max_tries: int = 10_000) -> Path:
    """Create and return ``base``, or ``base-1``, ``base-2`` ... if another run took it."""
    base.parent.mkdir(parents=True, exist_ok=True)
    for i in range(max_tries):
        candidate = base if i == 0 else base.with_name(f"{base.name}-{i}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise FileExistsError(f"no free run directory next to {base} after {max_tries} tries")


class RunLock:
    """Exclusive ownership of a run directory (see the module docstring)."""

    def __init__(self, run_dir: Path, fd: Optional[int]) -> None:
        self.run_dir, self._fd = run_dir, fd

    @classmethod
    def acquire(cls, run_dir: Path, what: str = "run directory") -> RunLock:
        """Lock ``run_dir`` (creating it) or raise :class:`RunDirectoryInUse` naming the
        process that holds it. Re-entrant: a lock this process holds is returned as is."""
        key = run_dir.resolve()
        if key in _held:
            return _held[key]
        run_dir.mkdir(parents=True, exist_ok=True)
        if fcntl is None:
            lock = cls(run_dir, None)
        else:
            fd = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _describe(os.read(fd, 4096))
                os.close(fd)
                raise RunDirectoryInUse(
                    f"{what} {run_dir} is in use by {holder}: wait for that run to finish or "
                    "stop it (Ctrl-C, or kill -TERM: it saves checkpoints/last.pt), then "
                    "resume it with resume=; or start a new run elsewhere") from None
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                     "since": time.strftime("%Y-%m-%d %H:%M:%S")}).encode())
            lock = cls(run_dir, fd)
        _held[key] = lock
        return lock

    def release(self) -> None:
        """Give the directory up (the kernel does this too when the process ends)."""
        _held.pop(self.run_dir.resolve(), None)
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor drops the flock
            self._fd = None


def held(run_dir: Path) -> bool:
    """Whether this process holds the lock of ``run_dir``."""
    return run_dir.resolve() in _held


def _describe(content: bytes) -> str:
    try:
        info = json.loads(content.decode())
        return f"process {info['pid']} on {info['host']} (since {info['since']})"
    except (ValueError, KeyError, UnicodeDecodeError):
        return "another process"
