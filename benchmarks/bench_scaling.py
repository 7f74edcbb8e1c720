"""Training steps/s against num_envs, for each env backend, device and learner backend: the
table docs/speed.md keeps for ``device=cpu`` vs ``device=cuda`` (cuda rows only where a GPU
is present), with the envs alone (random actions) as the limit.

LunarLander-v3, the tuned ``lunar_discrete`` algorithm settings (n_steps 16). Each cell is
the steady state of one run's collect + update loop (no evaluation or logging): a warm-up of
a few updates (CUDA-graph capture, compilation), then at least ``--steps`` env steps and 10
updates. One cell at a time.

    python benchmarks/bench_scaling.py [--num-envs 8 64 256] [--steps 200000]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import gymnasium as gym
import numpy as np
import torch
from bench_sps import TUNED_SETTINGS, has_envpool
from omegaconf import OmegaConf

from a2c_cli.cli.console import RunConsole
from a2c_cli.config import Config, EnvConfig
from a2c_cli.envs.factory import make_vector_env
from a2c_cli.training.build import build_trainer
from a2c_cli.validation import auto_device

ENV_BACKENDS = {  # name -> overrides
    "gymnasium sync": {"env": {"backend": "gymnasium"}, "vec_env": "sync"},
    "gymnasium async": {"env": {"backend": "gymnasium"}, "vec_env": "async"},
    "envpool sync": {"env": {"backend": "envpool"}, "vec_env": "sync"},
    "envpool async": {"env": {"backend": "envpool"}, "vec_env": "async"},
}
#: (device, learner backend) rows; cuda ones only with a GPU.
LEARNERS = [("cpu", "auto"), ("cuda", "graph"), ("cuda", "compiled"), ("cuda", "torch")]


def steady_sps(overrides: dict, num_envs: int, steps: int, warmup_updates: int = 3) -> tuple:
    """(env steps/s of collect + update after the warm-up, warm-up seconds)."""
    batch = num_envs * TUNED_SETTINGS["algo"]["n_steps"]
    updates = max(10, steps // batch)
    cfg = OmegaConf.merge(OmegaConf.structured(Config), {
        "env": {"id": "LunarLander-v3"}, "num_envs": num_envs,
        "total_timesteps": (warmup_updates + updates) * batch,
        "eval": {"every_steps": 0, "final_episodes": 0}, "progress": "none", **overrides})
    config: Config = OmegaConf.to_object(cfg)  # type: ignore[assignment]
    with TemporaryDirectory() as tmp:
        trainer = build_trainer(config, Path(tmp), OmegaConf.to_container(cfg),  # type: ignore
                                RunConsole("none", config.total_timesteps, 1e9))
        cuda = trainer.agent.device.type == "cuda"
        try:
            step, total = 0, warmup_updates + updates
            start = time.perf_counter()
            for update in range(total):
                if update == warmup_updates:
                    trainer.learner.finish()
                    if cuda:
                        torch.cuda.synchronize()
                    warmup_s = time.perf_counter() - start
                    start = time.perf_counter()
                last_obs, _ = trainer.collector.collect(step)
                trainer.learner.update(trainer.buffer, last_obs, update / total)
                step += batch
            trainer.learner.finish()
            if cuda:
                torch.cuda.synchronize()
            return updates * batch / (time.perf_counter() - start), warmup_s
        finally:
            trainer.close()


def envs_alone(backend: str, num_envs: int, steps: int) -> float:
    """Random actions through the vector env we train on (its own limit)."""
    envs = make_vector_env(EnvConfig(id="LunarLander-v3", backend=backend), num_envs)
    envs.reset(seed=0)
    actions = np.random.default_rng(0).integers(0, 4, (100, num_envs))
    n = max(50, steps // num_envs)
    start = time.perf_counter()
    for i in range(n):
        envs.step(actions[i % 100])
    sps = n * num_envs / (time.perf_counter() - start)
    envs.close()
    return sps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-envs", type=int, nargs="+", default=[8, 64, 256])
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--backends", nargs="+", default=list(ENV_BACKENDS),
                        choices=list(ENV_BACKENDS))
    parser.add_argument("--learners", nargs="+", default=["auto", "graph", "compiled"],
                        help="learner backends to measure (cpu: auto; cuda: the others)")
    args = parser.parse_args()
    gym.logger.min_level = 40
    gpu = torch.cuda.is_available()
    learners = [(d, b) for d, b in LEARNERS if b in args.learners and (gpu or d == "cpu")]
    backends = [b for b in args.backends if has_envpool() or not b.startswith("envpool")]
    print(f"LunarLander-v3, lunar_discrete settings, {os.cpu_count()} cores, "
          f"{platform.machine()}, torch {torch.__version__}"
          + (f", GPU: {torch.cuda.get_device_name()}" if gpu else ", no GPU"), flush=True)
    print("| env backend | device | learner | " + " | ".join(f"{n} envs" for n in args.num_envs)
          + " |")
    print("|" + "---|" * (3 + len(args.num_envs)))
    warmups = []
    for backend in backends:
        env_backend = "envpool" if backend.startswith("envpool") else "gymnasium"
        alone = [envs_alone(env_backend, n, args.steps) for n in args.num_envs]
        print(f"  cell {env_backend} alone: "
              + ", ".join(f"{n} envs {s:,.0f}" for n, s in zip(args.num_envs, alone,
                                                               strict=True)), flush=True)
        print(f"| {env_backend} alone (random actions) | - | - | "
              + " | ".join(f"{s:,.0f}" for s in alone) + " |", flush=True)
        for device, learner in learners:
            cells = []
            for num_envs, limit in zip(args.num_envs, alone, strict=True):
                if backend == "gymnasium async" and num_envs > 4 * (os.cpu_count() or 1):
                    cells.append("-")  # one process per env: skipped beyond 4 per core
                    continue
                overrides = TUNED_SETTINGS | ENV_BACKENDS[backend] | {
                    "device": device, "backend": learner, "num_envs": num_envs,
                    "env": {"id": "LunarLander-v3", **ENV_BACKENDS[backend]["env"]}}
                try:
                    sps, warmup_s = steady_sps(overrides, num_envs, args.steps)
                except Exception as exc:  # noqa: BLE001 - a failed cell must not stop the table
                    cells.append(f"failed: {type(exc).__name__}: {str(exc)[:80]}")
                    continue
                warmups.append(f"{backend}/{device}/{learner}/{num_envs}: {warmup_s:.1f} s")
                cells.append(f"{sps:,.0f} ({sps / limit:.0%})")
                # each cell as it is measured: a run cut short keeps what it measured
                print(f"  cell {backend} / {device} / {learner} / {num_envs} envs: {cells[-1]}",
                      flush=True)
            print(f"| {backend} | {device} | {learner} | " + " | ".join(cells) + " |",
                  flush=True)
    print("device=auto: " + ", ".join(f"{n} envs -> {auto_device(n, gpu)[0]}"
                                      for n in args.num_envs))
    print("warm-up (3 updates incl. capture/compilation): " + "; ".join(warmups))


if __name__ == "__main__":
    main()
