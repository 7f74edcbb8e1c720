"""Signals to a sweep's launcher stop the whole sweep cleanly.

The launcher (the ``a2c-train -m`` process) catches SIGINT and SIGTERM once the multirun
starts (:func:`arm`, called by :class:`a2c_cli.cli.sweep_callback.SweepCallback`) and
writes a stop file into the sweep directory. Every job of the sweep watches that file
(:func:`a2c_cli.cli.signals.stop_requested`): a running job stops after its current update
and saves ``last.pt``; a job not started yet does not start. The launcher waits for the
running jobs as usual, bounded: after :data:`GRACE_S` seconds (or at a second signal) it
kills what is left of the sweep. Then a2c-train exits 130/143 with one line saying what
happened to the jobs and that the same command continues the sweep.

A file rather than forwarded signals: it reaches jobs in loky workers, submitit's local
subprocesses and Slurm nodes on a shared file system alike, and a job that got the same
Ctrl-C from the terminal is not sent a second signal (which aborts without saving).
"""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional

STOP_FILE = ".a2c-stop"
#: How long the launcher waits for stopping jobs before it kills them.
GRACE_S = float(os.environ.get("A2C_SWEEP_GRACE_S", "120"))

_state: Dict[str, Any] = {"signum": None, "sweep_dir": None}


def requested() -> Optional[int]:
    """The signal that stopped this launcher's sweep, if any."""
    return _state["signum"]


def arm(sweep_dir: Path) -> None:
    """In the launcher, as the multirun starts: clear an earlier session's stop file and
    catch SIGINT/SIGTERM (main thread only)."""
    sweep_dir.mkdir(parents=True, exist_ok=True)
    (sweep_dir / STOP_FILE).unlink(missing_ok=True)
    _state["sweep_dir"] = sweep_dir
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, _on_signal)


def _on_signal(signum: int, frame: Any) -> None:
    if _state["signum"] is not None:  # a second signal: do not wait any longer
        kill_descendants(signal.SIGKILL)
        return
    _state["signum"] = signum
    sweep_dir: Path = _state["sweep_dir"]
    tmp = sweep_dir / f"{STOP_FILE}.tmp"
    tmp.write_text(str(signum))
    tmp.replace(sweep_dir / STOP_FILE)
    timer = threading.Timer(GRACE_S, kill_descendants, args=(signal.SIGKILL,))
    timer.daemon = True
    timer.start()


def read_stop_file(path: Path) -> Optional[int]:
    """The signal number a launcher wrote into ``path``, if the file is there."""
    try:
        return int(path.read_text().strip() or signal.SIGTERM)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return int(signal.SIGTERM)


def descendants(pid: int) -> List[int]:
    """Every live process below ``pid`` (Linux /proc; empty elsewhere)."""
    children: Dict[int, List[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_descendants(sig: int) -> None:
    for pid in descendants(os.getpid()):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def summary(signum: int) -> str:
    """One line: what the stop did to the sweep's jobs, and how to continue."""
    counts = {"completed": 0, "interrupted": 0, "not started": 0}
    sweep_dir: Optional[Path] = _state["sweep_dir"]
    jobs = [p for p in sweep_dir.iterdir() if (p / ".hydra").is_dir()] if sweep_dir else []
    for job in jobs:
        try:
            status = json.loads((job / "metrics.json").read_text()).get("status")
        except (OSError, ValueError):
            status = None
        key = status if status in ("completed", "interrupted") else \
            "interrupted" if (job / "checkpoints" / "last.pt").is_file() else "not started"
        counts[key] += 1
    name = signal.Signals(signum).name
    done = ", ".join(f"{n} {what}" for what, n in counts.items())
    return (f"a2c-train: sweep stopped by {name}: {done} (of {len(jobs)} jobs in "
            f"{sweep_dir}); run the same command again to continue it (interrupted jobs "
            "resume from their last.pt).")
