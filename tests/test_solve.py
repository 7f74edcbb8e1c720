"""The headline claims, with the shipped defaults: CartPole (fast) and LunarLander (slow)."""

from __future__ import annotations

import json

import pytest

from .conftest import a2c_train, shipped_cartpole, train_in_process


def solve(tmp_path, env, env_name: str, seed: int) -> dict:
    run_dir = tmp_path / env_name
    a2c_train([f"env={env_name}", f"seed={seed}", f"hydra.run.dir={run_dir}"], env)
    return json.loads((run_dir / "metrics.json").read_text())


@pytest.mark.xdist_group("shipped_cartpole")
def test_cartpole_defaults_reach_475(shipped_cartpole_root):
    m = shipped_cartpole("gymnasium", 0, shipped_cartpole_root)
    assert m["final_eval_episodes"] == 100
    assert m["final_eval_mean_return"] >= 475 and m["solved"], m


@pytest.mark.solve
@pytest.mark.parametrize("env_name", ["lunar_discrete", "lunar_continuous"])
def test_lunar_lander_defaults_solve(tmp_path, subprocess_env, env_name):
    m = solve(tmp_path, subprocess_env, env_name, seed=0)
    assert m["final_eval_episodes"] == 100
    assert m["final_eval_mean_return"] >= 200 and m["solved"], m


@pytest.mark.solve
def test_taxi_preset_drives_near_the_optimum(tmp_path):
    """env=taxi (legal-action masks): an optimal policy's expected return is 7.93 (below
    gymnasium's threshold of 8; benchmarks/taxi_optimum.py); without the masks A2C settles
    on never picking up, -200 a game."""
    m = train_in_process(["env=taxi", "seed=0"], tmp_path / "taxi")
    assert m["final_eval_episodes"] == 100 and m["final_eval_mean_return"] >= 7.8, m

