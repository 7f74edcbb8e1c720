"""Env steps per second on LunarLander-v3, 8 envs, n_steps 5, CPU, in one run:

  (a) the gymnasium vector env alone with random actions (the limit for any learner on it),
  (b) a2c-cli's full training loop with Stable-Baselines3's A2C settings,
  (c) a2c-cli's training loop with the tuned lunar_discrete defaults (n_steps 16),
  (d) Stable-Baselines3's A2C (dev dependency), same settings as (b),
  (e) EnvPool's vector env alone, random actions (when the envpool extra is installed),
  (f) a2c-cli with env.backend=envpool, settings as (b),
  (h) (f) with vec_env=async: two EnvPool pools, one steps while the policy acts for the
      other,
  (g) (b) with backend=torch (eager torch autograd for acting and the update),
  (i) (b) with backend=compiled (torch.compile of acting and the loss graph; its warm-up
      includes the compilation, which is reported separately),

and the ratios; (b) is the default backend (auto = numpy on the CPU). Each measurement
runs after a short warm-up; torch uses 1 thread for all (the fastest setting for these
small networks on every implementation).

    python benchmarks/bench_sps.py [--steps 200000] [--sb3-steps 40000] [--no-compiled]
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import gymnasium as gym
import numpy as np
import torch
from omegaconf import OmegaConf

from a2c_cli.cli.console import RunConsole
from a2c_cli.config import Config, EnvConfig, find_config_dir
from a2c_cli.envs.factory import make_vector_env
from a2c_cli.training.build import build_trainer

ENV_ID = "LunarLander-v3"
NUM_ENVS = 8


def env_only(steps: int, backend: str = "gymnasium") -> float:
    """Random actions through the same vector env (SAME_STEP autoreset) we train on."""
    envs = make_vector_env(EnvConfig(id=ENV_ID, backend=backend), NUM_ENVS)
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = [rng.integers(0, 4, NUM_ENVS) for _ in range(1000)]
    start = time.perf_counter()
    for i in range(steps // NUM_ENVS):
        envs.step(actions[i % 1000])
    sps = steps / (time.perf_counter() - start)
    envs.close()
    return sps


def ours(steps: int, overrides: dict) -> float:
    """a2c-cli's Trainer (collect + update + logging), no evaluation, CPU."""
    base = OmegaConf.structured(Config)
    cfg = OmegaConf.merge(base, {
        "env": {"id": ENV_ID}, "num_envs": NUM_ENVS, "total_timesteps": steps, "device": "cpu",
        "eval": {"every_steps": 0, "final_episodes": 0}, "progress": "none", **overrides})
    config: Config = OmegaConf.to_object(cfg)  # type: ignore[assignment]
    with TemporaryDirectory() as tmp:
        trainer = build_trainer(config, Path(tmp), OmegaConf.to_container(cfg),  # type: ignore
                                RunConsole("none", steps, 1e9))
        try:
            metrics = trainer.train()
        finally:
            trainer.close()
    return float(metrics["sps"])


def sb3(steps: int) -> float:
    from stable_baselines3 import A2C
    from stable_baselines3.common.env_util import make_vec_env

    env = make_vec_env(ENV_ID, n_envs=NUM_ENVS, seed=0)
    model = A2C("MlpPolicy", env, n_steps=5, device="cpu", seed=0, verbose=0)
    model.learn(total_timesteps=2_000)  # warm-up
    start = time.perf_counter()
    model.learn(total_timesteps=steps, reset_num_timesteps=False)
    sps = steps / (time.perf_counter() - start)
    env.close()
    return sps


# SB3's A2C defaults: separate 64-64 tanh MLPs, RMSprop(alpha=.99, eps=1e-5), lr 7e-4,
# n-step returns (gae_lambda=1), no advantage or observation normalisation.
SB3_SETTINGS = {
    "network": {"shared": [], "actor": [64, 64], "critic": [64, 64], "activation": "tanh",
                "layer_norm": False},
    "algo": {"n_steps": 5, "gae_lambda": 1.0, "optimizer": "rmsprop", "lr": 7e-4,
             "normalize_advantage": False, "normalize_obs": False, "ent_coef": 0.0},
}
# The algo settings of the shipped conf/env/lunar_discrete.yaml, read from it.
TUNED_SETTINGS = {"algo": OmegaConf.to_container(
    OmegaConf.load(find_config_dir() / "env" / "lunar_discrete.yaml").algo)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--sb3-steps", type=int, default=40_000)
    parser.add_argument("--no-compiled", action="store_true", help="skip row (i)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    gym.logger.min_level = 40
    print(f"LunarLander-v3, {NUM_ENVS} envs, CPU ({platform.processor() or platform.machine()}), "
          f"torch {torch.__version__}, gymnasium {gym.__version__}, 1 torch thread")
    ours(4_000, SB3_SETTINGS)  # warm-up
    rows = {
        "(a) env only, gymnasium sync, random actions": env_only(args.steps),
        "(b) a2c-cli, SB3 settings (n_steps 5)": ours(args.steps, SB3_SETTINGS),
        "(c) a2c-cli, tuned lunar_discrete (n_steps 16)": ours(args.steps, TUNED_SETTINGS),
        "(d) Stable-Baselines3 A2C (n_steps 5)": sb3(args.sb3_steps),
    }
    if has_envpool():
        envpool = {"env": {"id": ENV_ID, "backend": "envpool"}}
        rows["(e) env only, EnvPool, random actions"] = env_only(args.steps, "envpool")
        rows["(f) a2c-cli, SB3 settings, env.backend=envpool"] = ours(
            args.steps, SB3_SETTINGS | envpool)
        rows["(h) a2c-cli, SB3 settings, env.backend=envpool vec_env=async"] = ours(
            args.steps, SB3_SETTINGS | envpool | {"vec_env": "async"})
    rows["(g) a2c-cli, SB3 settings, backend=torch"] = ours(
        args.steps, SB3_SETTINGS | {"backend": "torch"})
    if not args.no_compiled:
        start = time.perf_counter()
        ours(4_000, SB3_SETTINGS | {"backend": "compiled"})  # compiles
        compile_s = time.perf_counter() - start
        rows["(i) a2c-cli, SB3 settings, backend=compiled"] = ours(
            args.steps, SB3_SETTINGS | {"backend": "compiled"})
    width = max(map(len, rows))
    for name, sps in rows.items():
        print(f"{name:<{width}}  {sps:>10,.0f} env steps/s")
    sps = {name[1]: value for name, value in rows.items()}
    print(f"ours/SB3 (b/d): {sps['b'] / sps['d']:.1f}x   ours/env-only (b/a): "
          f"{100 * sps['b'] / sps['a']:.0f}%   tuned/env-only (c/a): "
          f"{100 * sps['c'] / sps['a']:.0f}%")
    print(f"backends (default numpy = b): torch (g/b) {sps['g'] / sps['b']:.2f}x"
          + (f", compiled (i/b) {sps['i'] / sps['b']:.2f}x (compile + warm-up "
             f"{compile_s:.0f} s)" if "i" in sps else ""))
    if "f" in sps:
        print(f"envpool/gymnasium backend (f/b): {sps['f'] / sps['b']:.2f}x, pipelined (h/b): "
              f"{sps['h'] / sps['b']:.2f}x   envpool ours/env-only (f/e): "
              f"{100 * sps['f'] / sps['e']:.0f}%, pipelined (h/e): "
              f"{100 * sps['h'] / sps['e']:.0f}%   envpool env/gymnasium env (e/a): "
              f"{sps['e'] / sps['a']:.2f}x")


def has_envpool() -> bool:
    try:
        import envpool  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
