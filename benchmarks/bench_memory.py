"""Resident memory (RSS) of a default LunarLander-v3 training run over its whole length.

Starts ``a2c-train`` (shipped defaults, ``env=lunar_discrete``) with ``total_timesteps``
1M in a temporary run directory, samples the training process's RSS from
/proc/<pid>/status every half second, and prints RSS at each tenth of the run, the peak
(VmHWM) and the growth while training, from 20% to 90% of the run (flat = no leak; the
last tenth holds the final 100-episode evaluation and the learning-curve plot, which
imports matplotlib). Linux only.

    python benchmarks/bench_memory.py [--steps 1000000] [a2c-train overrides ...]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory


def status_mb(pid: int, field: str) -> float | None:
    """A ``kB`` field of /proc/<pid>/status in MiB; None once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("overrides", nargs="*", help="extra a2c-train overrides")
    args = parser.parse_args()
    exe = shutil.which("a2c-train", path=str(Path(sys.executable).parent)) or "a2c-train"
    with TemporaryDirectory() as tmp:
        cmd = [exe, f"total_timesteps={args.steps}", "progress=none",
               f"hydra.run.dir={tmp}", *args.overrides]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True)
        start = time.perf_counter()
        samples: list[tuple[float, float]] = []
        peak = 0.0
        while proc.poll() is None:
            rss, hwm = status_mb(proc.pid, "VmRSS"), status_mb(proc.pid, "VmHWM")
            if rss is not None:
                samples.append((time.perf_counter() - start, rss))
                peak = max(peak, hwm or rss)
            time.sleep(0.5)
        stderr = proc.stderr.read() if proc.stderr else ""
        if proc.returncode != 0 or not samples:
            sys.exit(f"a2c-train failed (exit {proc.returncode}): {stderr.strip()[-500:]}")
        metrics = json.loads((Path(tmp) / "metrics.json").read_text())
    total = samples[-1][0]
    print(f"a2c-train {' '.join(cmd[1:2] + args.overrides)} (defaults otherwise): "
          f"{metrics['total_timesteps']:,} steps in {total:.0f} s, "
          f"final eval {metrics['final_eval_mean_return']:.1f}")
    print("  time   RSS (MiB)")
    for tenth in range(1, 11):
        t_target = total * tenth / 10
        t, rss = min(samples, key=lambda s: abs(s[0] - t_target))
        print(f"  {100 * tenth // 10:>3}%   {rss:7.0f}")
    rss_20 = min(samples, key=lambda s: abs(s[0] - 0.2 * total))[1]
    rss_90 = min(samples, key=lambda s: abs(s[0] - 0.9 * total))[1]
    print(f"peak RSS (VmHWM, incl. the final evaluation and plot): {peak:.0f} MiB   "
          f"training, 20% -> 90% of the run: {rss_90 - rss_20:+.0f} MiB   "
          f"metrics.json peak_rss_mb (before the plot): {metrics['peak_rss_mb']}")


if __name__ == "__main__":
    main()
