"""Resident memory of this process, for the ``diagnostics/rss_mb`` scalar and
``metrics.json: peak_rss_mb`` (does a run's memory grow with its length?).

Counts the training process only: with ``vec_env=async`` the env worker processes are
not included.
"""

from __future__ import annotations

import os
import sys

try:
    import resource
except ImportError:  # Windows
    resource = None  # type: ignore[assignment]

_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_mb() -> float:
    """Current resident set size in MiB (Linux: /proc/self/statm; elsewhere the peak)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            resident_pages = int(statm.read().split()[1])
    except (OSError, IndexError, ValueError):
        return peak_rss_mb()
    return resident_pages * _PAGE_BYTES / 2**20


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (NaN where the platform
    does not report it)."""
    if resource is None:
        return float("nan")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10
