"""The peer run for the MuJoCo suite: Stable-Baselines3's A2C with rl-zoo's own MuJoCo
settings, on the v5 tasks a2c-cli's presets train, at rl-zoo's budget, here.

rl-zoo's ``hyperparams/a2c.yml`` for MuJoCo is SB3's A2C defaults (one env, n_steps 5,
RMSprop 7e-4 with eps 1e-5, gamma 0.99, no GAE, vf 0.5, no entropy bonus, separate 64-64
tanh networks, log-std 0) with ``normalize: true`` (VecNormalize of observations and
rewards, its gamma the algorithm's), Swimmer with gamma 0.9999, Humanoid with 2M steps.
rl-zoo's published scores are one run each; this script measures what seeds of the same
setting score, with a2c-cli's evaluation: 100 deterministic episodes of the final policy
on fresh envs, observations normalised with the training statistics, frozen.

One JSON line per run goes to stdout and is appended to ``--out``:

    python benchmarks/sb3_mujoco.py --tasks Swimmer-v5 HalfCheetah-v5 --seeds 0 1
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Dict

import numpy as np
import torch
from stable_baselines3 import A2C
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import VecNormalize

#: task -> (agent steps, gamma): rl-zoo's a2c.yml for the v4 ids of these tasks.
TASKS = {"HalfCheetah-v5": (1_000_000, 0.99), "Hopper-v5": (1_000_000, 0.99),
         "Walker2d-v5": (1_000_000, 0.99), "Ant-v5": (1_000_000, 0.99),
         "Swimmer-v5": (1_000_000, 0.9999), "Humanoid-v5": (2_000_000, 0.99)}


def train_one(task: str, seed: int, steps: int) -> Dict[str, Any]:
    torch.set_num_threads(1)
    budget, gamma = TASKS[task]
    steps = steps or budget
    envs = VecNormalize(make_vec_env(task, n_envs=1, seed=seed), gamma=gamma)
    model = A2C("MlpPolicy", envs, gamma=gamma, seed=seed, device="cpu", verbose=0)
    start = time.perf_counter()
    model.learn(total_timesteps=steps)
    train_s = time.perf_counter() - start
    eval_envs = VecNormalize(make_vec_env(task, n_envs=8, seed=seed + 10_000), gamma=gamma,
                             training=False, norm_reward=False)
    eval_envs.obs_rms = envs.obs_rms
    returns, _ = evaluate_policy(model, eval_envs, n_eval_episodes=100, deterministic=True,
                                 return_episode_rewards=True)
    return {"task": task, "seed": seed, "agent_steps": steps, "gamma": gamma,
            "eval_mean": float(np.mean(returns)), "eval_std": float(np.std(returns)),
            "eval_episodes": len(returns),
            "train_return_last100": float(np.mean([e["r"] for e in model.ep_info_buffer])),
            "train_s": round(train_s, 1), "sps": round(steps / train_s),
            "sb3": __import__("stable_baselines3").__version__}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--steps", type=int, default=0, help="0: rl-zoo's budget")
    parser.add_argument("--out", type=Path, default=Path("outputs/benchmark/sb3_mujoco.jsonl"))
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for task in args.tasks:
        for seed in args.seeds:
            line = json.dumps(train_one(task, seed, args.steps))
            print(line, flush=True)
            with args.out.open("a") as f:
                f.write(line + "\n")


if __name__ == "__main__":
    main()
