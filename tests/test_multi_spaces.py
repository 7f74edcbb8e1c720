"""MultiDiscrete and MultiBinary actions, shaped Box actions, and Dict observations that hold
images (packed byte rows): the arithmetic against hand-computed values, the packing against
the env's own observations, and real runs that train, resume and replay in a2c-eval."""

from __future__ import annotations

import json
import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from a2c_cli.agent.distributions import Bernoulli, MultiCategorical
from a2c_cli.agent.encoders import PackedEncoder
from a2c_cli.agent.normalization import ObsNormalizer
from a2c_cli.config import EnvConfig
from a2c_cli.envs.factory import make_env_fn, probe_spaces
from a2c_cli.envs.packing import PackedBox
from a2c_cli.envs.spaces import describe_spaces
from a2c_cli.training.rollout import RolloutBuffer

from .conftest import A2C_EVAL, QUICK, REPO, a2c_train, run_cli, train_in_process

IMAGE_AND_VECTOR = "tests.fault_envs:ImageAndVector-v0"


def test_multi_categorical_log_prob_and_entropy_by_hand():
    # nvec (2, 3): p = (1/4, 3/4) and (1/4, 1/4, 1/2).
    logits = torch.tensor([[0.0, math.log(3.0), 0.0, 0.0, math.log(2.0)]])
    log_prob, entropy = MultiCategorical([2, 3]).log_prob_entropy(logits, torch.tensor([[1, 2]]))
    assert log_prob.item() == pytest.approx(math.log(3 / 4) + math.log(1 / 2))
    h1 = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    h2 = -(2 * 0.25 * math.log(0.25) + 0.5 * math.log(0.5))
    assert entropy.item() == pytest.approx(h1 + h2)
    assert MultiCategorical([2, 3]).mode(logits).tolist() == [[1, 2]]


def test_bernoulli_log_prob_and_entropy_by_hand():
    logits = torch.tensor([[0.0, math.log(3.0)]])  # p(1) = 1/2, 3/4
    log_prob, entropy = Bernoulli().log_prob_entropy(logits, torch.tensor([[1, 0]]))
    assert log_prob.item() == pytest.approx(math.log(0.5) + math.log(0.25))
    assert entropy.item() == pytest.approx(
        math.log(2) - (0.75 * math.log(0.75) + 0.25 * math.log(0.25)))
    assert Bernoulli().mode(logits).tolist() == [[0, 1]]  # 0 at p = 1/2: ties go to 0


def test_multi_samples_follow_their_probabilities():
    torch.manual_seed(0)
    n = 40000
    logits = torch.tensor([0.0, math.log(3.0), 0.0, 0.0, math.log(2.0)]).repeat(n, 1)
    samples = MultiCategorical([2, 3]).sample(logits)
    assert samples.shape == (n, 2) and samples.dtype == torch.long
    np.testing.assert_allclose(np.bincount(samples[:, 0], minlength=2) / n, [0.25, 0.75],
                               atol=0.01)
    np.testing.assert_allclose(np.bincount(samples[:, 1], minlength=3) / n,
                               [0.25, 0.25, 0.5], atol=0.01)
    bits = Bernoulli().sample(torch.tensor([0.0, math.log(3.0)]).repeat(n, 1))
    np.testing.assert_allclose(bits.float().mean(0).numpy(), [0.5, 0.75], atol=0.01)


def test_multi_action_spaces_map_to_the_env():
    md = describe_spaces(gym.spaces.Box(-1, 1, (3,)),
                         gym.spaces.MultiDiscrete([3, 4], start=[-1, 2]))
    assert md.action_kind == "multi_discrete" and md.action_dim == 7 and md.action_shape == (2,)
    np.testing.assert_array_equal(md.env_action(np.array([[0, 0], [2, 3]])), [[-1, 2], [1, 5]])
    mb = describe_spaces(gym.spaces.Box(-1, 1, (3,)), gym.spaces.MultiBinary((2, 2)))
    assert mb.action_kind == "multi_binary" and mb.action_dim == 4
    sent = mb.env_action(np.array([[1, 0, 0, 1]]))
    assert sent.dtype == np.int8 and sent.tolist() == [[[1, 0], [0, 1]]]
    box = describe_spaces(gym.spaces.Box(-1, 1, (3,)), gym.spaces.Box(-1, 1, (2, 3)))
    assert box.action_dim == 6 and box.env_action(np.full((1, 6), 5.0)).shape == (1, 2, 3)
    assert box.env_action(np.full((1, 6), 5.0)).max() == 1.0


def test_dict_with_an_image_is_packed_into_rows_the_network_unpacks():
    env = make_env_fn(EnvConfig(id=IMAGE_AND_VECTOR))()
    raw = env.unwrapped.observation_space.sample()
    assert isinstance(env.observation_space, PackedBox)
    row = env.observation(raw)  # the PackObservation wrapper's packing
    layout = env.observation_space.layout
    assert row.dtype == np.uint8 and layout.row_bytes == 4 * 2 + 64 and row.size == 72
    # The network's views give back the env's own entries, in their own dtypes.
    encoder = PackedEncoder("none", layout)
    rows = torch.from_numpy(np.stack([row, row]))
    np.testing.assert_array_equal(rows[:, :8].view(torch.float32)[0].numpy(), raw["vector"])
    features = encoder(rows)
    assert features.shape == (2, 2 + 64)
    np.testing.assert_allclose(features[0, :2].numpy(), raw["vector"])
    np.testing.assert_allclose(features[0, 2:].numpy(), raw["image"].reshape(-1) / 255.0,
                               rtol=1e-6)
    # The rollout keeps one byte per pixel; normalisation touches the vector bytes only.
    spaces = probe_spaces(EnvConfig(id=IMAGE_AND_VECTOR))
    buffer = RolloutBuffer(4, 2, spaces.obs_shape, spaces.action_shape, True,
                           torch.device("cpu"), spaces.obs_dtype)
    assert buffer.obs.dtype == np.uint8 and buffer.obs.shape == (4, 2, 72)
    norm = ObsNormalizer.for_spaces(spaces, enabled=True)
    batch = np.stack([env.observation(env.unwrapped.observation_space.sample())
                      for _ in range(64)])
    norm.update(batch)
    out = norm.normalize(batch)
    np.testing.assert_array_equal(out[:, 8:], batch[:, 8:])
    vectors = batch[:, :8].copy().view(np.float32)
    expected = (vectors - vectors.mean(0)) / np.sqrt(vectors.var(0) + 1e-8)
    np.testing.assert_allclose(out[:, :8].copy().view(np.float32), expected, atol=1e-3)
    env.close()


#: (env id, extra overrides, the final evaluation's floor over 16-step episodes: random
#: play scores 8, 4.7 and 8).
LEARNS = [
    ("tests.fault_envs:MatchBits-v0", [], 14.0),
    ("tests.fault_envs:MatchComponents-v0", [], 14.0),
    (IMAGE_AND_VECTOR, ["network.encoder=none"], 14.0),
]


@pytest.mark.parametrize(("env_id", "extra", "floor"), LEARNS,
                         ids=["multi_binary", "multi_discrete", "dict_image_vector"])
def test_multi_spaces_learn_resume_and_replay_in_a2c_eval(tmp_path, env_id, extra, floor,
                                                         subprocess_env):
    """Each task is only solvable by a policy that reads every observation entry and sets
    every action component: above the floor, the arithmetic is right end to end."""
    run = tmp_path / "run"
    common = [*QUICK, f"env.id={env_id}", "eval.every_steps=0",
              "eval.final_episodes=10", *extra]
    m = train_in_process([*common, "total_timesteps=16000"], run)
    assert m["status"] == "completed" and m["final_eval_mean_return"] >= floor, m
    m = train_in_process([*common, "total_timesteps=17000", f"resume={run}"], run)
    assert m["status"] == "completed" and m["total_timesteps"] == 17000
    run_cli(A2C_EVAL, [str(run), "episodes=10"], dict(subprocess_env, PYTHONPATH=str(REPO)))
    replay = json.loads((run / "checkpoints" / "eval.json").read_text())
    assert replay["global_step"] == 17000 and replay["mean_return"] >= floor


def test_a_cnn_reads_image_entries_and_renders_a_video(tmp_path):
    m = train_in_process(["env=cartpole", f"env.id={IMAGE_AND_VECTOR}",
                          "network.encoder=minatar_cnn", "total_timesteps=2000",
                          "eval.every_steps=0", "eval.final_episodes=2", "video.enabled=true",
                          "video.count=1"], tmp_path / "run")
    assert m["status"] == "completed"
    assert list((tmp_path / "run").rglob("*.mp4"))


def test_numpy_backend_refuses_multi_actions_in_one_line(tmp_path, subprocess_env):
    proc = a2c_train(["env=cartpole", "env.id=tests.fault_envs:MatchBits-v0", "backend=numpy",
                      f"hydra.run.dir={tmp_path / 'run'}"],
                     dict(subprocess_env, PYTHONPATH=str(REPO)), check=False)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "multi_binary" in lines[0] and "backend=torch" in lines[0]
    assert not (tmp_path / "run").exists()


def test_minigrid_dict_of_an_image_and_a_direction_trains_resumes_and_replays(tmp_path,
                                                                             subprocess_env):
    """The preset's wrappers drop the mission text; the 7x7x3 view and the direction
    (one-hot) reach the network as one packed row, the view through its own encoder."""
    spaces = probe_spaces(EnvConfig(id="MiniGrid-DoorKey-5x5-v0", wrappers=[
        {"_target_": "gymnasium.wrappers.FilterObservation",
         "filter_keys": ["image", "direction"]}]))
    assert spaces.layout is not None and spaces.layout.vector_dim == 4
    assert [e.shape for e in spaces.layout.images] == [(7, 7, 3)]
    train_resume_and_replay(tmp_path / "run", ["env=minigrid_doorkey", "num_envs=4"], 1024,
                            subprocess_env)


def train_resume_and_replay(run, overrides, steps, subprocess_env) -> None:
    """Train ``steps``, resume to twice as many, and replay the run in a2c-eval."""
    common = [*overrides, "eval.every_steps=0", "eval.final_episodes=1"]
    m = train_in_process([*common, f"total_timesteps={steps}"], run)
    assert m["status"] == "completed" and m["final_eval_episodes"] == 1
    m = train_in_process([*common, f"total_timesteps={2 * steps}", f"resume={run}"], run)
    assert m["status"] == "completed" and m["total_timesteps"] == 2 * steps
    run_cli(A2C_EVAL, [str(run), "episodes=1"], subprocess_env)
    assert json.loads((run / "checkpoints" / "eval.json").read_text())["global_step"] == 2 * steps


@pytest.mark.slow  # about 25 s: CarRacing draws its track on every reset
def test_car_racing_pixels_with_box_actions_train_resume_and_replay(tmp_path, subprocess_env):
    train_resume_and_replay(tmp_path / "run", [
        "env=cartpole", "env.id=CarRacing-v3", "network=nature_cnn", "algo.normalize_obs=false",
        "env.max_episode_steps=40", "num_envs=2"], 160, subprocess_env)
