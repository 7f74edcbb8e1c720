"""Training steps/s against num_envs, for each env backend and device: the table the README
keeps for ``device=cpu`` vs ``device=cuda`` (cuda rows only where a GPU is present).

LunarLander-v3, the tuned ``lunar_discrete`` algorithm settings (n_steps 16), no evaluation;
each cell is a short training run after a warm-up, one run at a time. gymnasium async (one
process per env) is skipped ("-") beyond 4 envs per core.

    python benchmarks/bench_scaling.py [--num-envs 8 64 256] [--steps 200000]
"""

from __future__ import annotations

import argparse
import os
import platform

import gymnasium as gym
import torch
from bench_sps import TUNED_SETTINGS, has_envpool, ours

BACKENDS = {  # name -> overrides
    "gymnasium sync": {"env": {"backend": "gymnasium"}, "vec_env": "sync"},
    "gymnasium async": {"env": {"backend": "gymnasium"}, "vec_env": "async"},
    "envpool sync": {"env": {"backend": "envpool"}, "vec_env": "sync"},
    "envpool async": {"env": {"backend": "envpool"}, "vec_env": "async"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-envs", type=int, nargs="+", default=[8, 64, 256])
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS),
                        choices=list(BACKENDS))
    args = parser.parse_args()
    gym.logger.min_level = 40
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    backends = [b for b in args.backends if has_envpool() or not b.startswith("envpool")]
    print(f"LunarLander-v3, lunar_discrete settings, {platform.machine()}, "
          f"torch {torch.__version__}, devices: {', '.join(devices)}"
          + (f" ({torch.cuda.get_device_name()})" if "cuda" in devices else ""))
    header = "| backend | device | " + " | ".join(f"{n} envs" for n in args.num_envs) + " |"
    print(header)
    print("|" + "---|" * (2 + len(args.num_envs)))
    for backend in backends:
        for device in devices:
            cells = []
            for num_envs in args.num_envs:
                if backend == "gymnasium async" and num_envs > 4 * (os.cpu_count() or 1):
                    cells.append("-")  # one process per env: skipped beyond 4 per core
                    continue
                overrides = TUNED_SETTINGS | BACKENDS[backend] | {
                    "device": device, "num_envs": num_envs,
                    "env": {"id": "LunarLander-v3", **BACKENDS[backend]["env"]}}
                ours(num_envs * 16 * 20, overrides)  # warm-up
                cells.append(f"{ours(args.steps, overrides):,.0f}")
            print(f"| {backend} | {device} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
