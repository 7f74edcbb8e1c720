"""A user's own environment and wrappers: env.wrappers from the config in every place an
env is built, a module in the working directory found without PYTHONPATH, env.check."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import torch

from .conftest import A2C_EVAL, QUICK, a2c_train, run_cli, train_in_process

TIME_AWARE = "env.wrappers=[{_target_:gymnasium.wrappers.TimeAwareObservation}]"
#: What a user writes: an env registered on import, and a wrapper of their own.
MY_ENVS = textwrap.dedent('''
    import gymnasium as gym
    import numpy as np

    class Corridor(gym.Env):
        """Walk right to the end of a corridor of 5 cells (reward 1 there)."""
        observation_space = gym.spaces.Box(0, 1, (5,), np.float32)
        action_space = gym.spaces.Discrete(2)

        def reset(self, seed=None, options=None):
            super().reset(seed=seed)
            self.pos = 0
            return self._obs(), {}

        def step(self, action):
            self.pos = min(max(self.pos + (1 if action == 1 else -1), 0), 4)
            done = self.pos == 4
            return self._obs(), float(done), done, False, {}

        def _obs(self):
            return np.eye(5, dtype=np.float32)[self.pos]

    class Double(gym.ObservationWrapper):
        def __init__(self, env, factor=2.0):
            super().__init__(env)
            self.factor = factor
            self.observation_space = gym.spaces.Box(0, factor, (5,), np.float32)

        def observation(self, obs):
            return obs * self.factor

    gym.register("Corridor-v0", entry_point=Corridor, max_episode_steps=50)
''')


def first_layer_inputs(checkpoint: Path) -> int:
    model = torch.load(checkpoint, weights_only=True)["model"]
    weights = [v for k, v in model.items() if k.endswith("weight") and v.dim() == 2]
    return int(weights[0].shape[1])


def test_wrappers_apply_in_training_evaluations_videos_and_a2c_eval(tmp_path, subprocess_env):
    """TimeAwareObservation gives CartPole a 5th input: the network is built for 5, so a
    periodic or final evaluation, a video or a2c-eval that skipped the wrapper would feed
    it 4 and fail."""
    run = tmp_path / "run"
    m = train_in_process(["env=cartpole", TIME_AWARE, "total_timesteps=2000",
                          "eval.every_steps=1000", "eval.episodes=2", "eval.final_episodes=2",
                          "video.enabled=true", "video.count=1"], run)
    assert m["status"] == "completed" and m["final_eval_episodes"] == 2
    assert first_layer_inputs(run / "checkpoints" / "final.pt") == 5
    assert list((run / "videos").glob("*.mp4"))
    proc = run_cli(A2C_EVAL, [str(run), "episodes=2"], subprocess_env)
    assert json.loads((run / "checkpoints" / "eval.json").read_text())["episodes"] == 2, \
        proc.stdout
    bare = run_cli(A2C_EVAL, [str(run), "episodes=2", "wrappers=[]"], subprocess_env,
                   check=False)
    lines = [ln for ln in bare.stderr.splitlines() if ln.strip()]
    assert bare.returncode == 2 and len(lines) == 1 and "do not fit" in lines[0], bare.stderr


def test_a_module_in_the_working_directory_needs_no_pythonpath(tmp_path, subprocess_env):
    (tmp_path / "my_envs.py").write_text(MY_ENVS)
    env = {k: v for k, v in subprocess_env.items() if k != "PYTHONPATH"}
    run = tmp_path / "run"
    a2c_train([*QUICK, "env.id=my_envs:Corridor-v0", "total_timesteps=4000",
               "eval.every_steps=0", "eval.final_episodes=3", "plot=false", "env.check=true",
               "env.wrappers=[{_target_:my_envs.Double,factor:3.0}]", f"hydra.run.dir={run}"],
              env, cwd=tmp_path)
    m = json.loads((run / "metrics.json").read_text())
    assert m["status"] == "completed" and m["env_id"] == "my_envs:Corridor-v0"
    assert "env.check: gymnasium's env checker on my_envs:Corridor-v0" in \
        (run / "train.log").read_text()
    run_cli(A2C_EVAL, [str(run), "episodes=3"], env, cwd=tmp_path)
    report = json.loads((run / "checkpoints" / "eval.json").read_text())
    assert report["episodes"] == 3 and report["mean_return"] == pytest.approx(1.0)


@pytest.mark.parametrize(("override", "says"), [
    ("env.wrappers=[{_target_:no_such_module.Wrapper}]",
     "env.wrappers[0] (no_such_module.Wrapper) cannot be imported"),
    ("env.wrappers=[{_target_:gymnasium.wrappers.RescaleAction,min_action:0}]",
     "env.wrappers[0] (gymnasium.wrappers.RescaleAction) could not wrap the env"),
    ("env.wrappers=[FlattenObservation]", "env.wrappers[0]='FlattenObservation' is invalid"),
    ("env.backend=envpool", "EnvPool's C++ envs cannot be wrapped"),
])
def test_bad_wrappers_are_one_line_with_nothing_written(tmp_path, subprocess_env, override,
                                                        says):
    args = ["env=cartpole", override, f"hydra.run.dir={tmp_path / 'run'}"]
    if "envpool" in override:
        pytest.importorskip("envpool")
        args.insert(1, TIME_AWARE)
    proc = a2c_train(args, subprocess_env, check=False)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and says in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "run").exists()
