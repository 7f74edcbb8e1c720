"""a2c-eval, videos during training and learning-curve plots, on real runs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import imageio.v3 as iio
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from .conftest import A2C_EVAL, a2c_train

#: Its module fixture runs once: the whole file on one pytest-xdist worker.
pytestmark = pytest.mark.xdist_group("test_eval_cli")

PNG = b"\x89PNG\r\n\x1a\n"


def a2c_eval(args: list[str], env: dict, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([A2C_EVAL, *args], env=env, capture_output=True, text=True,
                          timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"a2c-eval failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    import os

    path = tmp_path_factory.mktemp("evalrun") / "run"
    a2c_train(["env=cartpole", "total_timesteps=20000", "eval.every_steps=10000",
               "eval.final_episodes=30", "video.enabled=true", "video.count=2",
               f"hydra.run.dir={path}"], dict(os.environ, NO_COLOR="1"))
    return path


def test_training_writes_videos_that_decode(run_dir):
    videos = sorted((run_dir / "videos").glob("step_*.mp4"))
    assert [v.name for v in videos] == ["step_000010000.mp4", "step_000020000.mp4"]
    for video in videos:
        frames = iio.imread(video, plugin="FFMPEG")
        assert frames.shape[0] > 1 and frames.shape[-1] == 3
    acc = EventAccumulator(str(run_dir), size_guidance={"images": 0})
    acc.Reload()
    gifs = acc.Images("videos/eval_episode")
    assert [g.step for g in gifs] == [10000, 20000]
    assert gifs[0].encoded_image_string[:6] == b"GIF89a"


def test_training_writes_the_learning_curve(run_dir):
    assert (run_dir / "learning_curve.png").read_bytes()[:8] == PNG


def test_eval_reproduces_the_final_evaluation(run_dir, subprocess_env):
    metrics = json.loads((run_dir / "metrics.json").read_text())
    proc = a2c_eval([str(run_dir), "episodes=30"], subprocess_env)
    report = json.loads((run_dir / "checkpoints" / "eval.json").read_text())
    # Same checkpoint, seed and deterministic policy: the very same episodes.
    assert report["mean_return"] == pytest.approx(metrics["final_eval_mean_return"])
    assert report["returns"] == metrics["final_eval_returns"]
    assert report["episodes"] == 30 and report["solved"] == metrics["solved"]
    assert "mean_return" in proc.stdout and "median_return" in proc.stdout


def test_eval_video_plot_and_other_checkpoints(run_dir, subprocess_env):
    proc = a2c_eval([str(run_dir / "checkpoints" / "best.pt"), "episodes=4", "video=true",
                     "video_episodes=2", "seed=123", "--plot"], subprocess_env)
    report = json.loads((run_dir / "checkpoints" / "eval.json").read_text())
    assert report["checkpoint"].endswith("best.pt") and report["seed"] == 123
    assert len(report["videos"]) == 2
    for video in report["videos"]:
        assert iio.imread(video, plugin="FFMPEG").shape[0] > 0
    assert Path(report["plot"]).read_bytes()[:8] == PNG
    assert "wrote" in proc.stdout


@pytest.mark.parametrize("args, expected", [
    (["/no/such/run"], "does not exist"),
    (["RUN", "episodes=0"], "episodes=0"),
    (["RUN", "episodes=many"], "episodes='many'"),
    (["RUN", "colour=blue"], "not an a2c-eval option"),
    (["RUN", "checkpoint=newest"], "checkpoint='newest'"),
    (["RUN", "deterministic_action=mode"], "deterministic_action='mode'"),
    (["GARBAGE"], "cannot be read"),
])
def test_eval_bad_input(run_dir, subprocess_env, tmp_path, args, expected):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00" * 100)
    args = [str(run_dir) if a == "RUN" else str(garbage) if a == "GARBAGE" else a for a in args]
    proc = a2c_eval(args, subprocess_env, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and expected in lines[0], proc.stderr


def test_evaluations_do_not_depend_on_earlier_episodes():
    """BipedalWalker keeps its Box2D world across seeded resets: on reused envs the same
    policy and seed score differently once other episodes ran. The Evaluator makes its envs
    afresh, so a repeated evaluation (and a2c-eval) sees the very same episodes."""
    import numpy as np
    import torch

    from a2c_cli.agent.agent import Agent
    from a2c_cli.agent.networks import ActorCritic, flatten_parameters
    from a2c_cli.agent.normalization import ObsNormalizer
    from a2c_cli.config import EnvConfig, EvalConfig, NetworkConfig
    from a2c_cli.envs.factory import make_vector_env
    from a2c_cli.envs.spaces import describe_spaces
    from a2c_cli.training.evaluator import Evaluator
    from a2c_cli.training.train_state import TrainState
    from a2c_cli.training.weight_average import WeightAverage

    env_cfg = EnvConfig(id="BipedalWalker-v3", max_episode_steps=300)
    probe = make_vector_env(env_cfg, 1, "sync")
    spaces = describe_spaces(probe.single_observation_space, probe.single_action_space)
    probe.close()
    torch.manual_seed(0)
    net = ActorCritic(spaces, NetworkConfig(log_std_init=-1.0))
    with torch.no_grad():  # a policy that moves its legs, so episodes differ by physics
        net.policy_out.bias.copy_(torch.tensor([0.8, -0.5, -0.8, 0.5]))
    agent = Agent(net, ObsNormalizer.for_spaces(spaces, False), spaces, torch.device("cpu"))
    made = []

    def make_envs():
        made.append(make_vector_env(env_cfg, 4, "sync"))
        return made[-1]

    evaluator = Evaluator(agent, WeightAverage(net, flatten_parameters(net), 0.0), make_envs,
                          EvalConfig(), 123, None, TrainState(), lambda: None)
    first = evaluator.evaluate(6)
    evaluator.evaluate(10)  # other episodes in between
    again = evaluator.evaluate(6)
    assert len(made) == 3 and all(envs.closed for envs in made)
    np.testing.assert_array_equal(first.returns, again.returns)
