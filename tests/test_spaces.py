"""Observation and action spaces beyond flat Box: one-hot Discrete (with start), Tuple/Dict
of discrete entries, Dicts holding images (packed rows), Discrete(n, start), MultiDiscrete,
MultiBinary and shaped Box actions; unsupported spaces refused in one line."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from a2c_cli.config import EnvConfig
from a2c_cli.envs.factory import make_env_fn, probe_spaces
from a2c_cli.envs.spaces import observation_wrapper
from a2c_cli.errors import UnsupportedEnvError

from .conftest import A2C_EVAL, QUICK, REPO, a2c_train, run_cli, train_in_process

SHORT = ["total_timesteps=3000", "eval.every_steps=0", "eval.final_episodes=5"]


def test_discrete_observations_are_one_hot_honouring_start():
    env = make_env_fn(EnvConfig(id="tests.fault_envs:ShiftedSpaces-v0"))()
    obs, _ = env.reset(seed=0)  # state 2, the first of Discrete(4, start=2)
    np.testing.assert_array_equal(obs, [1, 0, 0, 0])
    obs, *_ = env.step(1)  # state 3
    np.testing.assert_array_equal(obs, [0, 1, 0, 0])
    spaces = probe_spaces(EnvConfig(id="tests.fault_envs:ShiftedSpaces-v0"))
    assert spaces.obs_dim == 4 and spaces.discrete and spaces.action_dim == 3
    assert spaces.action_start == -1
    np.testing.assert_array_equal(spaces.env_action(np.array([0, 1, 2])), [-1, 0, 1])


def test_tuple_and_dict_of_discrete_entries_concatenate_their_one_hots():
    blackjack = probe_spaces(EnvConfig(id="Blackjack-v1"))
    assert blackjack.obs_dim == 32 + 11 + 2  # Tuple(Discrete(32), Discrete(11), Discrete(2))
    space = gym.spaces.Dict({"a": gym.spaces.Discrete(3), "b": gym.spaces.MultiBinary(2),
                             "c": gym.spaces.MultiDiscrete([2, 3])})
    assert observation_wrapper(space) is gym.wrappers.FlattenObservation
    flat = gym.spaces.flatten(space, {"a": 2, "b": np.array([1, 0]), "c": np.array([1, 2])})
    np.testing.assert_array_equal(flat, [0, 0, 1, 1, 0, 0, 1, 0, 0, 1])


@pytest.mark.parametrize(("space", "says"), [
    (gym.spaces.Dict({"inner": gym.spaces.Dict({"x": gym.spaces.Discrete(2)})}), "nested Dict"),
    (gym.spaces.Text(5), "not supported"),
    (gym.spaces.Dict({"img": gym.spaces.Box(0, 1000, (8, 8, 3), np.float32),
                      "x": gym.spaces.Discrete(2)}), "floats within \\[0, 255\\]"),
    (gym.spaces.Tuple((gym.spaces.Discrete(2), gym.spaces.Sequence(gym.spaces.Discrete(2)))),
     "no fixed-size encoding"),
])
def test_unsupported_observation_spaces_are_named(space, says):
    with pytest.raises(UnsupportedEnvError, match=says):
        observation_wrapper(space)


@pytest.mark.parametrize("env_id", ["FrozenLake-v1", "Blackjack-v1",
                                    "tests.fault_envs:ShiftedSpaces-v0"])
def test_discrete_observation_envs_train_checkpoint_resume_and_evaluate(tmp_path, env_id,
                                                                        subprocess_env):
    run = tmp_path / "run"
    m = train_in_process(["env=cartpole", f"env.id={env_id}", *SHORT], run)
    assert m["status"] == "completed" and m["final_eval_episodes"] == 5
    m = train_in_process(["env=cartpole", f"env.id={env_id}", "total_timesteps=6000",
                          "eval.every_steps=0", "eval.final_episodes=5", f"resume={run}"], run)
    assert m["status"] == "completed" and m["total_timesteps"] == 6000
    run_cli(A2C_EVAL, [str(run), "episodes=5"], dict(subprocess_env, PYTHONPATH=str(REPO)))


def test_shifted_discrete_actions_reach_the_env_with_their_start(tmp_path):
    """The env raises on an action outside Discrete(3, start=-1): a run that sent policy
    indices 0..2 as they are would fail at the first action 2; this one learns to climb."""
    m = train_in_process([*QUICK, "env.id=tests.fault_envs:ShiftedSpaces-v0",
                          "total_timesteps=20000", "eval.every_steps=0",
                          "eval.final_episodes=10"], tmp_path / "run")
    assert m["final_eval_mean_return"] == pytest.approx(1.0)


def test_an_unsupported_space_is_one_line_exit_2(tmp_path, subprocess_env):
    proc = a2c_train(["env=cartpole", "env.id=tests.fault_envs:NestedDictObs-v0",
                      f"hydra.run.dir={tmp_path / 'run'}"],
                     dict(subprocess_env, PYTHONPATH=str(REPO)), check=False)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "nested Dict" in lines[0], proc.stderr
    assert not (tmp_path / "run").exists()
