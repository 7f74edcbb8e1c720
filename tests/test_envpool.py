"""env.backend=envpool: SAME_STEP semantics, config errors, and learning like gymnasium."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from a2c_cli.config import EnvConfig, NetworkConfig
from a2c_cli.envs.factory import make_vector_env, probe_spaces
from a2c_cli.errors import ConfigError
from a2c_cli.validation import check_environment, validate

from .conftest import compose_config, make_collector, shipped_cartpole, to_config

pytest.importorskip("envpool", reason="the envpool extra is not installed")

CARTPOLE = EnvConfig(id="CartPole-v1", backend="envpool")


def test_spaces_match_gymnasium():
    for kwargs, task in (({}, "LunarLander-v3"), ({"continuous": True}, "LunarLander-v3"),
                         ({}, "CartPole-v1"), ({}, "Pendulum-v1")):
        ours = probe_spaces(EnvConfig(id=task, kwargs=kwargs, backend="envpool"))
        gym_spaces = probe_spaces(EnvConfig(id=task, kwargs=kwargs))
        assert (ours.obs_dim, ours.discrete, ours.action_dim) == \
            (gym_spaces.obs_dim, gym_spaces.discrete, gym_spaces.action_dim)


def test_same_step_autoreset_and_time_limit():
    """Done steps return the next episode's first obs; the last one is in final_obs;
    truncation comes exactly at max_episode_steps, termination is not truncation."""
    limit = 12
    envs = make_vector_env(EnvConfig(id="CartPole-v1", backend="envpool",
                                     max_episode_steps=limit), 4)
    obs, _ = envs.reset(seed=[0, 1, 2, 3])
    length = np.zeros(4, int)
    rng = np.random.default_rng(0)
    seen = {"terminated": 0, "truncated": 0}
    for _ in range(300):
        prev = obs
        obs, reward, terminated, truncated, info = envs.step(rng.integers(0, 2, 4))
        assert reward.dtype == np.float64 and (reward == 1.0).all()  # every step is real
        length += 1
        done = terminated | truncated
        assert (truncated == ((length == limit) & ~terminated)).all()
        for i in np.flatnonzero(done):
            final = info["final_obs"][i]
            # CartPole moves by at most a few hundredths per step: the final obs follows
            # the previous one; the returned obs is a fresh start (all |x| <= 0.05).
            assert np.abs(final - prev[i]).max() < 0.5
            assert np.abs(obs[i]).max() <= 0.05
        for i in np.flatnonzero(~done):
            assert np.abs(obs[i] - prev[i]).max() < 0.5
        seen["terminated"] += int(terminated.sum())
        seen["truncated"] += int(truncated.sum())
        length[done] = 0
    assert seen["terminated"] > 0 and seen["truncated"] > 0
    envs.close()


def test_seeded_reset_repeats_episodes():
    envs = make_vector_env(CARTPOLE, 3)
    first, _ = envs.reset(seed=[5, 6, 7])
    envs.step(np.array([0, 1, 0]))
    again, _ = envs.reset(seed=[5, 6, 7])
    other, _ = envs.reset(seed=[8, 9, 10])
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    envs.close()


def test_collector_episode_statistics_match_env_steps():
    envs = make_vector_env(EnvConfig(id="CartPole-v1", backend="envpool",
                                     max_episode_steps=20), 4)
    torch.manual_seed(0)
    collector, buf, _ = make_collector(envs, 50, NetworkConfig(shared=[8], actor=[], critic=[]),
                                       seed=0)
    _, finished = collector.collect(global_step=0)
    assert (buf.rewards == 1.0).all()
    assert finished.returns and finished.returns == [float(n) for n in finished.lengths]
    assert max(finished.lengths) <= 20
    # Truncated (length 20, not terminated) steps store V(final obs); others store 0.
    truncated = (buf.done == 1) & (buf.terminated == 0)
    assert truncated.sum() == sum(n == 20 for n in finished.lengths)
    assert (buf.final_values[~truncated] == 0).all()
    envs.close()


@pytest.mark.parametrize("continuous", [False, True])
def test_pipelined_halves_collect_the_same_rollouts(continuous):
    """vec_env=async (two pools, one steps while the policy acts for the other) gives the
    same transitions, truncation values and episode statistics as one pool; exact with
    the running statistics off, since only their update order differs."""
    env_cfg = EnvConfig(id="LunarLander-v3", backend="envpool", max_episode_steps=30,
                        kwargs={"continuous": continuous})
    rollouts = []
    for kind in ("sync", "async"):
        envs = make_vector_env(env_cfg, 6, kind)
        torch.manual_seed(0)
        np.random.seed(0)
        collector, buf, _ = make_collector(
            envs, 40, NetworkConfig(shared=[16], actor=[], critic=[]), seed=3, backend="numpy")
        steps, episodes = [], []
        for rollout in range(2):
            last_obs, finished = collector.collect(global_step=rollout * 240)
            steps.append([a.copy() for a in (buf.obs, buf.actions, buf.rewards,
                                             buf.terminated, buf.done, buf.final_values)])
            steps[-1].append(last_obs.copy())
            episodes.append((finished.returns, finished.lengths, finished.steps))
        rollouts.append((steps, episodes))
        envs.close()
    (sync_steps, sync_episodes), (async_steps, async_episodes) = rollouts
    assert sum(len(e[0]) for e in sync_episodes) >= 6  # episodes ended (time limit 30)
    assert (sync_steps[1][5] != 0).any()  # truncations stored V(final obs)
    # Matrix products over 3 rows instead of 6 may round the last float32 bit differently
    # (Gaussian means, V(final obs)); discrete actions, flags and lengths are exact.
    for (s_ret, s_len, s_step), (a_ret, a_len, a_step) in zip(sync_episodes, async_episodes,
                                                              strict=True):
        assert (s_len, s_step) == (a_len, a_step)
        np.testing.assert_allclose(s_ret, a_ret, rtol=1e-5)
    for sync_arrays, async_arrays in zip(sync_steps, async_steps, strict=True):
        for a, b in zip(sync_arrays, async_arrays, strict=True):
            if a.dtype.kind == "f":
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
            else:
                np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("overrides, expected", [
    (["env=lunar_wind"], "no option gravity"),
    (["env.id=Taxi-v4"], "not available with env.backend=envpool"),
    (["env.id=tests.fault_envs:NanAfter-v0"], r"EnvPool runs only its own C\+\+ envs"),
    (["vec_env=async", "num_envs=1"], "needs num_envs >= 2"),
])
def test_unsupported_envpool_settings(overrides, expected):
    cfg = to_config(compose_config(["env.backend=envpool", *overrides]))
    with pytest.raises(ConfigError, match=expected):
        validate(cfg)
        check_environment(cfg)


def test_missing_envpool_is_a_config_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "envpool", None)  # import envpool -> ImportError
    cfg = to_config(compose_config(["env=cartpole", "env.backend=envpool"]))
    with pytest.raises(ConfigError, match=r"pip install 'a2c-cli\[envpool\]'"):
        check_environment(cfg)


@pytest.mark.slow  # four 150k-step runs (make test-slow)
@pytest.mark.xdist_group("shipped_cartpole")
def test_both_backends_train_cartpole_to_the_same_level(shipped_cartpole_root):
    """The shipped CartPole settings, seeds 0 and 1, on each backend."""
    finals = {}
    for backend in ("gymnasium", "envpool"):
        for seed in (0, 1):
            metrics = shipped_cartpole(backend, seed, shipped_cartpole_root)
            assert metrics["final_eval_episodes"] == 100
            finals[backend, seed] = metrics["final_eval_mean_return"]
    assert all(score >= 475 for score in finals.values()), finals
