"""The peer baseline for the MinAtar suite: Stable-Baselines3's A2C on the same games, with
the same network, protocol and budget as ``sweep=benchmark_minatar``.

- Protocol (MinAtar paper, Young & Tian 2019): the ``MinAtar/<Game>-v0`` envs (full
  6-action set, sticky actions 0.1, 10x10xC bool frames, one step = one frame), episodes
  cut at 10,000 steps as in a2c-cli's presets, 5M frames.
- Network: a2c-cli's ``network=minatar_cnn`` in SB3's terms: a features extractor of one
  16x3x3/1 convolution, ReLU, then one 128-unit ReLU layer (a2c-cli's shared trunk), and
  linear actor and critic heads (``net_arch=[]``), SB3's orthogonal initialisation.
- Settings: ``--settings rlzoo`` (default) is rl-zoo's Atari A2C, what an SB3 user runs on
  pixels (16 envs, n_steps 5, ``RMSpropTFLike`` eps 1e-5, lr 7e-4 constant, vf 0.25,
  entropy 0.01, GAE off); ``--settings a2c-cli`` copies the a2c-cli MinAtar preset's
  algorithm settings instead (n_steps 16, GAE 0.95, torch RMSprop, lr decaying linearly,
  entropy 0.05, vf 0.5), which compares the two implementations alone.
- Score: the final policy's mean return over 100 deterministic episodes on fresh envs, as
  a2c-cli's final evaluation.

One JSON line per game goes to stdout and is appended to ``--out``:

    python benchmarks/sb3_minatar.py --games Breakout Asterix --seed 0 [--steps 5000000]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Dict

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import A2C
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.sb2_compat.rmsprop_tf_like import RMSpropTFLike
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

GAMES = ("Asterix", "Breakout", "Freeway", "Seaquest", "SpaceInvaders")
MAX_EPISODE_STEPS = 10_000


class MinAtarExtractor(BaseFeaturesExtractor):
    """Conv 16x3x3/1 on the channels-first frame, flatten, 128 units: a2c-cli's
    ``minatar_cnn`` encoder plus its one-layer shared trunk."""

    def __init__(self, observation_space: gym.spaces.Box, features_dim: int = 128) -> None:
        super().__init__(observation_space, features_dim)
        h, w, c = observation_space.shape
        self.conv = nn.Sequential(nn.Conv2d(c, 16, 3, stride=1), nn.ReLU(), nn.Flatten())
        self.linear = nn.Sequential(nn.Linear(16 * (h - 2) * (w - 2), features_dim), nn.ReLU())

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.linear(self.conv(obs.float().permute(0, 3, 1, 2)))


def settings(name: str) -> Dict[str, Any]:
    """SB3 A2C keyword arguments for ``--settings``."""
    policy_kwargs: Dict[str, Any] = {"features_extractor_class": MinAtarExtractor,
                                     "net_arch": [], "normalize_images": False}
    if name == "rlzoo":
        policy_kwargs.update(optimizer_class=RMSpropTFLike, optimizer_kwargs={"eps": 1e-5})
        return {"n_envs": 16, "n_steps": 5, "learning_rate": 7e-4, "ent_coef": 0.01,
                "vf_coef": 0.25, "policy_kwargs": policy_kwargs}
    return {"n_envs": 16, "n_steps": 16, "gamma": 0.99, "gae_lambda": 0.95,
            "learning_rate": lambda remaining: 7e-4 * remaining, "ent_coef": 0.05,
            "vf_coef": 0.5, "max_grad_norm": 0.5, "rms_prop_eps": 1e-5,
            "normalize_advantage": False, "policy_kwargs": policy_kwargs}


def train_one(game: str, seed: int, steps: int, setting: str, threads: int) -> Dict[str, Any]:
    import minatar.gym

    minatar.gym.register_envs()
    torch.set_num_threads(threads)
    env_id = f"MinAtar/{game}-v0"
    kwargs = settings(setting)
    n_envs = kwargs.pop("n_envs")
    env_kwargs = {"max_episode_steps": MAX_EPISODE_STEPS}
    envs = make_vec_env(env_id, n_envs=n_envs, seed=seed, env_kwargs=env_kwargs)
    model = A2C("MlpPolicy", envs, seed=seed, device="cpu", verbose=0, **kwargs)
    start = time.perf_counter()
    model.learn(total_timesteps=steps)
    train_s = time.perf_counter() - start
    episodes = list(model.ep_info_buffer)
    eval_envs = make_vec_env(env_id, n_envs=8, seed=seed + 10_000, env_kwargs=env_kwargs)
    returns, _ = evaluate_policy(model, eval_envs, n_eval_episodes=100, deterministic=True,
                                 return_episode_rewards=True)
    return {"game": game, "env_id": env_id, "seed": seed, "settings": setting,
            "agent_steps": steps, "frames": steps,
            "eval_mean": float(np.mean(returns)), "eval_std": float(np.std(returns)),
            "eval_episodes": len(returns),
            "train_return_last100": float(np.mean([e["r"] for e in episodes])),
            "train_s": round(train_s, 1), "sps": round(steps / train_s),
            "sb3": __import__("stable_baselines3").__version__}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--games", nargs="+", default=list(GAMES), choices=GAMES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=5_000_000)
    parser.add_argument("--settings", choices=("rlzoo", "a2c-cli"), default="rlzoo")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (a2c-cli's "
                        "sweeps run one per job)")
    parser.add_argument("--out", type=Path, default=Path("outputs/benchmark/sb3_minatar.jsonl"))
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for game in args.games:
        result = train_one(game, args.seed, args.steps, args.settings, args.threads)
        line = json.dumps(result)
        print(line, flush=True)
        with args.out.open("a") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    main()
