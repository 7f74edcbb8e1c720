"""A sweep at its own scale: many short CartPole jobs through Hydra's joblib launcher.

1. ``--jobs`` (200) jobs, ``hydra/launcher=joblib hydra.launcher.n_jobs=2``: wall time,
   the peak resident memory of the sweep's processes (the launcher and its workers, summed
   and per process, sampled every 0.2 s from /proc), and whether every job got its own
   directory and ``metrics.json``; then ``a2c-report`` over the sweep.
2. A killed worker: a smaller sweep of longer jobs, one worker SIGKILLed while it trains;
   prints the sweep's exit code and last error line, and what ``a2c-report`` lists as not
   completed, and checks that finished jobs kept their results.

    python benchmarks/bench_sweep.py [--jobs 200] [--skip-kill]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

from a2c_cli.cli.sweep_stop import descendants

BIN = Path(sys.executable).parent
KILL_AFTER_S = 8.0
SHORT = ["env=cartpole", "total_timesteps=2000", "eval.every_steps=0", "eval.final_episodes=5",
         "plot=false", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux /proc)."""
    return [pid, *descendants(pid)]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_sweep(cmd: list[str], cwd: Path, kill_after_s: float | None = None
              ) -> tuple[subprocess.CompletedProcess, float, float, float, int | None]:
    """Run ``cmd``; returns (process, wall s, peak summed RSS, peak single RSS, killed pid)."""
    start = time.perf_counter()
    out_file, err_file = (open(cwd / name, "w+") for name in ("sweep.out", "sweep.err"))
    # To files, not pipes: a sweep prints more than a pipe holds before anyone reads it.
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=out_file, stderr=err_file, text=True,
                            env=dict(os.environ, NO_COLOR="1"))
    peak_sum = peak_one = 0.0
    killed = None
    while proc.poll() is None:
        pids = tree(proc.pid)
        sizes = [rss_mb(p) for p in pids]
        peak_sum, peak_one = max(peak_sum, sum(sizes)), max(peak_one, max(sizes))
        if kill_after_s is not None and killed is None and \
                time.perf_counter() - start > kill_after_s and len(pids) > 1:
            workers = [p for p in pids if b"LokyProcess" in _cmdline(p)]
            if workers:
                killed = workers[0]
                os.kill(killed, signal.SIGKILL)
        time.sleep(0.2)
    proc.wait()
    out_file.seek(0)
    err_file.seek(0)
    done = subprocess.CompletedProcess(cmd, proc.returncode, out_file.read(), err_file.read())
    out_file.close()
    err_file.close()
    return done, time.perf_counter() - start, peak_sum, peak_one, killed


def report(sweep: Path) -> str:
    proc = subprocess.run([str(BIN / "a2c-report"), str(sweep), "--no-plot"], capture_output=True,
                          text=True, env=dict(os.environ, NO_COLOR="1"))
    return proc.stdout + proc.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--skip-kill", action="store_true")
    args = parser.parse_args()
    exe = shutil.which("a2c-train", path=str(BIN)) or "a2c-train"
    with TemporaryDirectory() as tmp:
        sweep = Path(tmp) / "sweep"
        cmd = [exe, "-m", *SHORT, f"seed=range(0,{args.jobs})", f"hydra.sweep.dir={sweep}"]
        done, wall, peak_sum, peak_one, _ = run_sweep(cmd, Path(tmp))
        dirs = [p for p in sweep.iterdir() if p.is_dir()]
        metrics = [json.loads(m.read_text()) for m in sweep.glob("*/metrics.json")]
        completed = sum(m["status"] == "completed" for m in metrics)
        print(f"{args.jobs}-job CartPole sweep (2,000 steps each), joblib n_jobs=2: exit "
              f"{done.returncode}, {wall:.0f} s wall ({wall / args.jobs:.2f} s a job), "
              f"{len(dirs)} job directories, {len(metrics)} metrics.json ({completed} "
              f"completed), distinct seeds {len({m['seed'] for m in metrics})}")
        print(f"peak RSS: {peak_sum:.0f} MiB for launcher + workers together, {peak_one:.0f} "
              "MiB for the largest process")
        start = time.perf_counter()
        text = report(sweep)
        print(f"a2c-report over it ({time.perf_counter() - start:.1f} s): "
              + next((ln.strip() for ln in text.splitlines() if "a2c-report:" in ln), text[-300:]))
    if args.skip_kill:
        return
    with TemporaryDirectory() as tmp:
        sweep = Path(tmp) / "sweep"
        cmd = [exe, "-m", *SHORT, "total_timesteps=300000", "seed=range(0,6)",
               f"hydra.sweep.dir={sweep}"]
        done, wall, _, _, killed = run_sweep(cmd, Path(tmp), kill_after_s=KILL_AFTER_S)
        last = [ln for ln in done.stderr.splitlines() if ln.strip()][-1:] or ["(no stderr)"]
        print(f"killed-worker sweep (6 jobs of 300k steps, worker {killed} SIGKILLed after "
              f"{KILL_AFTER_S:.0f} s): "
              f"exit {done.returncode} after {wall:.0f} s; last stderr line: {last[0][:300]}")
        statuses = {p.name.split("_", 1)[0]: json.loads((p / "metrics.json").read_text())["status"]
                    if (p / "metrics.json").is_file() else "no metrics.json"
                    for p in sweep.iterdir() if p.is_dir()}
        print(f"job statuses: {dict(sorted(statuses.items()))}")
        text = report(sweep)
        lines = [ln for ln in text.splitlines() if "unfinished" in ln or "a2c-report:" in ln]
        print("a2c-report: " + " | ".join(ln.strip() for ln in lines))


if __name__ == "__main__":
    main()
