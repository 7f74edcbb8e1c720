"""env.action_mask_key: legal-action masks from the env's info, in acting, the update,
evaluation and a2c-eval (eager torch here; the CUDA-graph backend in test_graph_backend)."""

from __future__ import annotations

import json
import math
import re

import gymnasium as gym
import numpy as np
import pytest
import torch

from a2c_cli.agent.networks import ActorCritic
from a2c_cli.agent.normalization import ObsNormalizer
from a2c_cli.config import EnvConfig, NetworkConfig
from a2c_cli.envs.action_masks import ActionMaskObservation, MaskedBox
from a2c_cli.envs.factory import probe_spaces
from a2c_cli.envs.spaces import describe_spaces
from a2c_cli.errors import UnsupportedEnvError
from a2c_cli.validation import check_environment, validate

from .conftest import (
    A2C_EVAL,
    QUICK,
    REPO,
    a2c_train,
    compose_config,
    run_cli,
    to_config,
    train_in_process,
)

LEGAL_MOVES = "tests.fault_envs:LegalMoves-v0"


def fixed_policy(action_space: gym.Space, logits: list[float], features: int = 3) -> ActorCritic:
    """A network over ``features`` inputs + a mask whose logits are ``logits`` whatever the
    observation (zero weights into the policy head, the logits as its bias)."""
    width = len(logits)
    space = MaskedBox(np.zeros(features + width, np.float32),
                      np.ones(features + width, np.float32), width)
    net = ActorCritic(describe_spaces(space, action_space), NetworkConfig(shared=[8], actor=[],
                                                                           critic=[]))
    with torch.no_grad():
        net.policy_out.weight.zero_()
        net.policy_out.bias.copy_(torch.tensor(logits))
    return net


def obs_with(mask: list[int], batch: int = 1, features: int = 3) -> torch.Tensor:
    feats = torch.rand(batch, features)
    return torch.cat([feats, torch.tensor(mask, dtype=torch.float32).expand(batch, -1)], -1)


def test_masked_log_probs_and_entropy_are_those_of_the_legal_actions():
    """Logits 1, 2, 3, 4 with action 1 masked: a categorical over {0, 2, 3} alone."""
    net = fixed_policy(gym.spaces.Discrete(4), [1.0, 2.0, 3.0, 4.0])
    obs = obs_with([1, 0, 1, 1], batch=4)
    log_prob, entropy, _ = net.evaluate(obs, torch.tensor([0, 2, 3, 1]))
    norm = math.log(math.exp(1) + math.exp(3) + math.exp(4))
    expected = [1 - norm, 3 - norm, 4 - norm]
    np.testing.assert_allclose(log_prob[:3].detach().numpy(), expected, rtol=1e-6)
    assert log_prob[3] < -1e7  # the masked action: no probability
    probs = np.exp(expected)
    np.testing.assert_allclose(entropy.detach().numpy(), -(probs * np.log(probs)).sum(),
                               rtol=1e-6)
    assert torch.isfinite(entropy).all()
    # the gradient of a masked logit is 0: the update never pushes an illegal action
    log_prob[:3].sum().backward()
    assert net.policy_out.bias.grad[1] == 0 and net.policy_out.bias.grad[3] != 0


def test_sampling_and_the_deterministic_choice_skip_masked_actions():
    torch.manual_seed(0)
    net = fixed_policy(gym.spaces.Discrete(4), [1.0, 2.0, 3.0, 4.0])
    with torch.no_grad():
        assert net.act(obs_with([1, 1, 1, 0]), deterministic=True).item() == 2  # not 3
        samples = net.act(obs_with([1, 0, 1, 1], batch=6000)).numpy()
    counts = np.bincount(samples, minlength=4)
    assert counts[1] == 0
    legal = np.exp([1.0, 3.0, 4.0]) / np.exp([1.0, 3.0, 4.0]).sum()
    expected = 6000 * legal
    chi2 = (((counts[[0, 2, 3]] - expected) ** 2) / expected).sum()
    assert chi2 < 13.8  # chi-square, 2 degrees of freedom, p = 0.001


def test_multi_discrete_masks_hold_per_component():
    """MultiDiscrete([2, 3]): a mask of 2 + 3 entries, one categorical per component."""
    net = fixed_policy(gym.spaces.MultiDiscrete([2, 3]), [0.0, 1.0, 1.0, 2.0, 3.0])
    obs = obs_with([1, 0, 0, 1, 1])
    with torch.no_grad():
        assert net.act(obs, deterministic=True).tolist() == [[0, 2]]
        log_prob, _, _ = net.evaluate(obs, torch.tensor([[0, 1]]))
    np.testing.assert_allclose(log_prob.item(), 0.0 + (2 - math.log(math.exp(2) + math.exp(3))),
                               rtol=1e-6)


def test_the_mask_rides_as_the_last_columns_and_is_not_normalised():
    env = ActionMaskObservation(gym.wrappers.FlattenObservation(gym.make(LEGAL_MOVES)), "legal")
    obs, info = env.reset(seed=3)
    assert obs.dtype == np.float32 and obs.shape == (12,)
    np.testing.assert_array_equal(obs[6:], info["legal"])
    assert obs[:6].argmax() == env.unwrapped.state
    spaces = probe_spaces(EnvConfig(id=LEGAL_MOVES, action_mask_key="legal"))
    assert (spaces.obs_dim, spaces.feature_dim, spaces.action_mask_dim) == (12, 6, 6)
    norm = ObsNormalizer.for_spaces(spaces, enabled=True)
    batch = np.stack([env.step(env.unwrapped.state)[0] for _ in range(64)])
    norm.update(batch)
    out = norm.normalize(batch)
    np.testing.assert_array_equal(out[:, 6:], batch[:, 6:])
    expected = (batch[:, :6] - batch[:, :6].mean(0)) / np.sqrt(batch[:, :6].var(0) + 1e-8)
    np.testing.assert_allclose(out[:, :6], expected, atol=1e-3)
    env.close()


def test_a_masked_policy_learns_and_a2c_eval_replays_it(tmp_path, subprocess_env):
    """LegalMoves raises on an illegal action: a run that completes never took one, in
    training, the final evaluation or a2c-eval; it learns the paying legal action (eager
    torch here; the CUDA-graph backend in test_graph_backend)."""
    run = tmp_path / "run"
    m = train_in_process([*QUICK, f"env.id={LEGAL_MOVES}", "env.action_mask_key=legal",
                          "total_timesteps=12000", "eval.every_steps=0",
                          "eval.final_episodes=10"], run)
    assert m["status"] == "completed" and m["final_eval_mean_return"] >= 15, m
    run_cli(A2C_EVAL, [str(run), "episodes=10"], dict(subprocess_env, PYTHONPATH=str(REPO)))
    replay = json.loads((run / "checkpoints" / "eval.json").read_text())
    assert replay["mean_return"] == m["final_eval_mean_return"]


@pytest.mark.parametrize(("overrides", "message"), [
    (["env.action_mask_key=mask"], "the env's info has no 'mask' entry (it has ['action_mask', "
                                   "'prob'])"),
    (["backend=numpy"], "the NumPy backend does not mask actions"),
    (["env.backend=envpool"], "EnvPool's envs report no action masks"),
])
def test_mask_options_that_cannot_work_fail_at_start(overrides, message):
    cfg = to_config(compose_config(["env=taxi", *overrides]))
    with pytest.raises((UnsupportedEnvError, ValueError), match=re.escape(message)):
        validate(cfg)
        check_environment(cfg)


def test_a_mask_on_box_actions_is_one_line_with_nothing_written(tmp_path, subprocess_env):
    run = tmp_path / "run"
    proc = a2c_train(["env=pendulum", "env.action_mask_key=action_mask",
                      f"hydra.run.dir={run}"], subprocess_env, check=False)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr
    assert "needs Discrete or MultiDiscrete actions" in lines[0] and not run.exists()
