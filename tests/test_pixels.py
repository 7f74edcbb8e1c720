"""Image observations: spaces, uint8 rollouts, CNN policies trained end to end, the Atari
protocol's training-only wrappers and full-game scores, videos, and the start-up checks.
MinAtar and Atari tests skip where their extras are not installed (make install has them)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from a2c_cli.agent.networks import ActorCritic
from a2c_cli.config import EnvConfig, NetworkConfig
from a2c_cli.envs.factory import make_vector_env
from a2c_cli.envs.spaces import describe_spaces
from a2c_cli.errors import ConfigError
from a2c_cli.outputs.video import video_frame
from a2c_cli.training.rollout import RolloutBuffer
from a2c_cli.validation import check_environment, validate

from .conftest import compose_config, scalars, to_config, train_in_process

DISCRETE = gym.spaces.Discrete(3)


def test_image_spaces_and_channel_order():
    atari = describe_spaces(gym.spaces.Box(0, 255, (4, 84, 84), np.uint8), DISCRETE)
    assert atari.image and atari.channels_first and atari.image_chw == (4, 84, 84)
    assert atari.pixel_high == 255 and atari.obs_dim == 4 * 84 * 84
    rgb = describe_spaces(gym.spaces.Box(0, 255, (210, 160, 3), np.uint8), DISCRETE)
    assert not rgb.channels_first and rgb.image_chw == (3, 210, 160)
    minatar = describe_spaces(gym.spaces.Box(0, 1, (10, 10, 10), bool), DISCRETE)
    assert not minatar.channels_first and minatar.pixel_high == 1.0  # (H, W, C) though C == H
    assert atari.obs_dtype == np.uint8 and minatar.obs_dtype == np.uint8
    floats = describe_spaces(gym.spaces.Box(0, 1, (3, 64, 64), np.float32), DISCRETE)
    assert floats.image and floats.obs_dtype == np.float32  # not rounded to bytes
    vector = describe_spaces(gym.spaces.Box(-1, 1, (8,), np.float32), DISCRETE)
    assert not vector.image and vector.obs_shape == (8,) and vector.obs_dtype == np.float32


def test_rollouts_keep_pixels_as_bytes():
    """An 8 x 84 x 84 x 4 rollout of 16 envs stays uint8 on the host: a quarter of float32."""
    atari = describe_spaces(gym.spaces.Box(0, 255, (4, 84, 84), np.uint8), DISCRETE)
    buf = RolloutBuffer(8, 16, atari.obs_shape, (), True, torch.device("cpu"),
                        obs_dtype=atari.obs_dtype)
    assert buf.obs.dtype == np.uint8 and buf.obs.shape == (8, 16, 4, 84, 84)
    assert buf.obs.nbytes == 8 * 16 * 4 * 84 * 84
    assert buf.to_device().obs.dtype == torch.uint8


@pytest.mark.parametrize("encoder, shape", [("nature_cnn", (4, 84, 84)),
                                            ("minatar_cnn", (10, 10, 4))])
def test_cnn_policies_scale_pixels_and_reorder_channels(encoder, shape):
    high = 255 if encoder == "nature_cnn" else 1
    spaces = describe_spaces(gym.spaces.Box(0, high, shape, np.uint8), DISCRETE)
    net = ActorCritic(spaces, NetworkConfig(encoder=encoder, shared=[128] if high == 1 else [],
                                            actor=[], critic=[], activation="relu",
                                            layer_norm=False))
    obs = torch.randint(0, high + 1, (5, *shape), dtype=torch.uint8)
    params, values = net(obs)
    assert params.shape == (5, 3) and values.shape == (5,)
    # The same pixels as floats in [0, 1], channels first, through the convolutions alone.
    x = obs.float() / high
    if encoder == "minatar_cnn":
        x = x.permute(0, 3, 1, 2)
    torch.testing.assert_close(net.encoder.net(x), net.encoder(obs))
    if encoder == "nature_cnn":
        assert net.encoder.out_dim == 512


def test_a_cnn_policy_learns_minatar_breakout(tmp_path):
    """The MinAtar preset (CNN, uint8 rollouts) in this process: 100k steps lift the final
    evaluation well above random play's ~0.5 (deterministic, 20 episodes)."""
    pytest.importorskip("minatar")
    m = train_in_process(["env=minatar_breakout", "total_timesteps=100000",
                          "eval.every_steps=50000", "eval.final_episodes=20", "plot=false"],
                         tmp_path)
    assert m["status"] == "completed" and m["final_eval_mean_return"] > 2.0, m
    assert m["agent_steps"] == m["frames"] == m["total_timesteps"]  # MinAtar: 1 frame a step
    s = scalars(tmp_path)
    assert len(s["charts/episodic_return"]) > 100
    evals = [step for step, _ in s["eval/mean_return"]]
    assert len(evals) == 1 and 50000 <= evals[0] < 50000 + 16 * 16  # the first update past 50k


@pytest.mark.parametrize("backend", ["gymnasium", "envpool"])
def test_atari_training_envs_lose_lives_but_report_whole_games(backend):
    """Training envs end the learner's episode at each lost life and clip rewards; the
    statistics they report are whole games in raw points. Evaluation envs play whole games.
    The same with EnvPool's C++ Atari (env.backend=envpool)."""
    pytest.importorskip("ale_py")
    if backend == "envpool":
        pytest.importorskip("envpool")
    cfg = EnvConfig(id="ALE/Breakout-v5", atari=True, backend=backend)
    envs = make_vector_env(cfg, 2, training=True)
    assert envs.single_observation_space.shape == (4, 84, 84)
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    learner_episodes, games, clipped = 0, [], True
    while len(games) < 2:
        _, reward, terminated, truncated, info = envs.step(rng.integers(0, 4, 2))
        clipped &= bool(np.all(np.abs(reward) <= 1))
        learner_episodes += int((terminated | truncated).sum())
        final = info.get("final_info", {})
        if "episode" in final:
            games += [float(r) for r in final["episode"]["r"][final["_episode"]]]
    envs.close()
    assert clipped and learner_episodes >= 5 * len(games)  # Breakout: 5 lives a game
    eval_envs = make_vector_env(cfg, 1)
    eval_envs.reset(seed=0)
    ends, steps = 0, 0
    while ends == 0:
        _, _, terminated, truncated, _ = eval_envs.step(rng.integers(0, 4, 1))
        ends, steps = int((terminated | truncated).sum()), steps + 1
    eval_envs.close()
    assert steps > 100  # a whole game of five lives, not one life


@pytest.mark.slow  # 2 envs x 2400 Atari steps through the Nature CNN: about 14 s of CPU
def test_pong_training_logs_full_game_scores(tmp_path):
    pytest.importorskip("ale_py")
    m = train_in_process(["env=pong", "num_envs=2", "total_timesteps=2400", "eval.every_steps=0",
                          "eval.final_episodes=1", "eval.num_envs=1", "plot=false"], tmp_path)
    assert m["status"] == "completed" and -21 <= m["final_eval_mean_return"] <= 21
    assert m["agent_steps"] == 2400 and m["frames"] == 4 * 2400 and m["frames_per_step"] == 4
    returns = [r for _, r in scalars(tmp_path)["charts/episodic_return"]]
    assert returns and all(-21 <= r <= -15 for r in returns)  # whole games of a novice


def test_video_frames_of_small_float_renders_are_bytes_and_enlarged():
    frame = np.random.default_rng(0).random((10, 10, 3))
    out = video_frame(frame)
    assert out.dtype == np.uint8 and out.shape == (160, 160, 3)
    assert (out[:16, :16] == (frame[0, 0] * 255).astype(np.uint8)).all()
    atari = np.zeros((210, 160, 3), np.uint8)
    assert video_frame(atari) is atari


def test_tensorboard_gifs_keep_the_episode_at_half_size_in_its_colours():
    """One palette per episode (gif_bytes): the frames decode at half size, in order, each
    close to the frame it came from (GIF writers merge a frame identical to the one before:
    the count may be lower)."""
    import imageio.v3 as iio

    from a2c_cli.outputs.video import gif_bytes

    env = gym.make("CartPole-v1", render_mode="rgb_array")
    env.reset(seed=0)
    frames = []
    for _ in range(40):
        frames.append(env.render())
        if any(env.step(1)[2:4]):
            env.reset()
    env.close()
    originals = np.stack(frames)[:, ::2, ::2].astype(int)
    decoded = iio.imread(gif_bytes(np.stack(frames), fps=30), index=None)[..., :3].astype(int)
    assert decoded.shape[1:] == (200, 300, 3) and 30 <= len(decoded) <= 40
    position = 0
    for frame in decoded:  # of 255: each frame is one of the episode's, in order
        while np.abs(frame - originals[position]).mean() >= 4:
            position += 1
            assert position < len(originals), "a GIF frame unlike the episode's frames"


@pytest.mark.parametrize("overrides, message", [
    (["algo.normalize_obs=true"], "algo.normalize_obs=true is invalid for image"),
    (["network=nature_cnn"], "smaller than 36x36"),
    (["network=default"], "network.encoder='none' is invalid"),
])
def test_options_that_do_not_fit_images_fail_at_start(overrides, message):
    pytest.importorskip("minatar")
    cfg = to_config(compose_config(["env=minatar_breakout", *overrides]))
    validate(cfg)
    with pytest.raises(ConfigError, match=message):
        check_environment(cfg)


def test_the_numpy_backend_refuses_a_cnn():
    cfg = to_config(compose_config(["env=minatar_breakout", "backend=numpy"]))
    with pytest.raises(ConfigError, match="no image encoder"):
        validate(cfg)
