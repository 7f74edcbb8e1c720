"""Returns and advantages against hand-computed cases, and SAME_STEP collection on a real
vector env: termination, truncation and autoreset inside one rollout."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from a2c_cli.config import EnvConfig, NetworkConfig
from a2c_cli.envs.factory import make_vector_env
from a2c_cli.training.rollout import compute_gae

from .conftest import make_collector


def col(*xs: float) -> torch.Tensor:
    """A (T, 1) tensor: one env."""
    return torch.tensor(xs, dtype=torch.float32).unsqueeze(1)


def gae(rewards, values, terminated, done, final_values, last, gamma, lam):
    return compute_gae(col(*rewards), col(*values), col(*terminated), col(*done),
                       col(*final_values), torch.tensor([last]), gamma, lam)


def test_plain_n_step_returns_bootstrap_from_last_value():
    adv, ret = gae([1, 2, 3], [0.5, 0.5, 0.5], [0, 0, 0], [0, 0, 0], [0, 0, 0], 2.0, 0.9, 1.0)
    # G2 = 3 + .9*2 = 4.8; G1 = 2 + .9*4.8 = 6.32; G0 = 1 + .9*6.32 = 6.688
    assert ret.squeeze(1).tolist() == pytest.approx([6.688, 6.32, 4.8])
    assert adv.squeeze(1).tolist() == pytest.approx([6.188, 5.82, 4.3])


def test_termination_cuts_the_return_and_does_not_bootstrap():
    _, ret = gae([1, 2, 3], [0.5, 0.5, 0.5], [0, 1, 0], [0, 1, 0], [0, 0, 0], 2.0, 0.9, 1.0)
    # episode ends at t=1 (terminal: target 2); t=2 belongs to a new episode.
    assert ret.squeeze(1).tolist() == pytest.approx([1 + 0.9 * 2, 2.0, 3 + 0.9 * 2])


def test_truncation_bootstraps_from_the_true_final_observation_value():
    _, ret = gae([1, 2, 3], [0.5, 0.5, 0.5], [0, 0, 0], [0, 1, 0], [0, 10.0, 0], 2.0, 0.9, 1.0)
    # t=1 truncated: 2 + .9 * V(final obs)=10 -> 11; t=0: 1 + .9 * 11 = 10.9
    assert ret.squeeze(1).tolist() == pytest.approx([10.9, 11.0, 4.8])


def test_truncation_and_termination_together_is_terminal():
    _, ret = gae([1.0], [0.0], [1], [1], [10.0], 5.0, 0.9, 1.0)
    assert ret.item() == pytest.approx(1.0)


def test_gae_lambda_with_terminal_last_step():
    adv, ret = gae([1, 1, 1], [1, 2, 3], [0, 0, 1], [0, 0, 1], [0, 0, 0], 7.0, 1.0, 0.5)
    # deltas: 1+2-1=2, 1+3-2=2, 1+0-3=-2; A2=-2, A1=2+.5*-2=1, A0=2+.5*1=2.5
    assert adv.squeeze(1).tolist() == pytest.approx([2.5, 1.0, -2.0])
    assert ret.squeeze(1).tolist() == pytest.approx([3.5, 3.0, 1.0])


def test_gae_envs_are_independent_columns():
    rewards = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    values = torch.zeros(2, 2)
    zeros = torch.zeros(2, 2)
    done = torch.tensor([[0.0, 1.0], [0.0, 0.0]])
    adv, _ = compute_gae(rewards, values, done, done, zeros, torch.tensor([1.0, 1.0]), 0.5, 1.0)
    assert adv[:, 0].tolist() == pytest.approx([1 + 0.5 * (1 + 0.5), 1 + 0.5])
    assert adv[:, 1].tolist() == pytest.approx([0.0, 1 + 0.5])


class CountdownEnv(gym.Env):
    """obs = [steps taken in this episode, episode number]; reward 1 per step.
    Terminates after 3 steps if ``terminate``; otherwise runs until the TimeLimit."""

    def __init__(self, terminate: bool = True) -> None:
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.terminate = terminate
        self.t = 0
        self.episode = -1

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        self.episode += 1
        return np.array([0.0, self.episode], np.float32), {}

    def step(self, action):
        self.t += 1
        obs = np.array([self.t, self.episode], np.float32)
        return obs, 1.0, self.terminate and self.t == 3, False, {}


gym.register("CountdownTest-v0", entry_point=CountdownEnv, max_episode_steps=3)


@pytest.mark.parametrize("terminate", [True, False])
def test_collector_same_step_autoreset_termination_and_truncation(terminate):
    env_cfg = EnvConfig(id="CountdownTest-v0", kwargs={"terminate": terminate})
    envs = make_vector_env(env_cfg, num_envs=2)
    torch.manual_seed(0)
    collector, buf, agent = make_collector(envs, 7, NetworkConfig(shared=[8], actor=[], critic=[]),
                                           seed=0)
    net = agent.network
    _, finished = collector.collect(global_step=0)

    # Every stored step is a real transition: reward 1 everywhere, no dummy reset step.
    assert (buf.rewards == 1.0).all()
    # Stored observations cycle 0,1,2 | 0,1,2 | 0: after an episode ends the next stored
    # obs is the new episode's first, never the final obs (3) of the old one.
    assert buf.obs[:, 0, 0].tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert buf.obs[:, 0, 1].tolist() == [0, 0, 0, 1, 1, 1, 2]
    ended = [0, 0, 1, 0, 0, 1, 0]
    assert buf.done[:, 0].tolist() == ended
    assert buf.terminated[:, 0].tolist() == (ended if terminate else [0] * 7)
    if terminate:
        assert (buf.final_values == 0).all()
    else:
        # Truncated by the time limit: V(true final obs [3, episode]) is stored.
        with torch.no_grad():
            expected = net.get_value(torch.tensor([[3.0, 0.0], [3.0, 1.0]]))
        assert buf.final_values[[2, 5], 0] == pytest.approx(expected.numpy(), abs=1e-6)
        assert buf.final_values[[0, 1, 3, 4, 6], 0].tolist() == [0] * 5
    assert finished.returns == [3.0] * 4 and finished.lengths == [3] * 4
    assert finished.steps == [5, 6, 11, 12]  # env 0 and env 1 of vector steps 3 and 6
    envs.close()
