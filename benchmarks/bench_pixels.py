"""Training steps per second on pixels, CPU: the Pong and MinAtar Breakout presets, run
through ``a2c-train`` as a user runs them, for one or more a2c-cli source trees.

Each measurement is a real run of the preset (its envs, network, backend and logging) for
a fixed number of agent steps with no periodic evaluation; the figure is metrics.json's
``sps`` (agent steps over training time, evaluation excluded). Trees are run in turn,
``--repeat`` times, so a comparison of two commits alternates on the same machine:

    git worktree add /tmp/before <commit>
    python benchmarks/bench_pixels.py --tree /tmp/before --tree . [--repeat 2]

Extra overrides for every run go after ``--``, e.g. ``-- torch_threads=2``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

#: preset -> agent steps measured
GAMES = {"pong": 20_000, "minatar_breakout": 100_000}
#: The final evaluation kept short (it is outside ``sps`` but costs wall time).
SHORT_FINAL_EVAL = ["eval.final_episodes=1", "eval.num_envs=1"]


def run(tree: Path, preset: str, steps: int, extra: list[str]) -> float:
    """One run of ``preset`` with the a2c-cli of ``tree``; returns its steps/s."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-c", "from a2c_cli.cli.train import cli; cli()",
               f"env={preset}", f"total_timesteps={steps}", f"eval.every_steps={steps * 10}",
               f"checkpoint.every_steps={steps * 10}", *SHORT_FINAL_EVAL, *extra,
               f"hydra.run.dir={tmp}/run"]
        env = {**os.environ, "PYTHONPATH": str(tree.resolve())}
        subprocess.run(cmd, check=True, env=env, cwd=tmp, stdout=subprocess.DEVNULL)
        return float(json.loads(Path(tmp, "run", "metrics.json").read_text())["sps"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", action="append", type=Path,
                        help="an a2c-cli source tree (repeatable; default: this one)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--games", default=",".join(GAMES))
    args, extra = parser.parse_known_args()
    extra = [arg for arg in extra if arg != "--"]
    trees = args.tree or [Path(__file__).resolve().parents[1]]
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"extra overrides: {extra or 'none'}")
    for preset in args.games.split(","):
        steps = GAMES[preset]
        figures: dict[Path, list[float]] = {tree: [] for tree in trees}
        for _ in range(args.repeat):
            for tree in trees:
                figures[tree].append(run(tree, preset, steps, extra))
        for tree, sps in figures.items():
            print(f"{preset:18s} {str(tree):24s} {statistics.mean(sps):8.0f} steps/s  "
                  f"(runs: {', '.join(f'{x:.0f}' for x in sps)}; {steps:,} agent steps)")


if __name__ == "__main__":
    main()
