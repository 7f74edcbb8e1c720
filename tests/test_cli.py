"""End-to-end: a2c-train runs (the console script, and the task in-process), their outputs
read back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from .conftest import a2c_train, job_dir, quiet_env, scalars, train_in_process

#: Its module fixture runs once: the whole file on one pytest-xdist worker.
pytestmark = pytest.mark.xdist_group("test_cli")

QUICK = ["env=cartpole", "total_timesteps=30000", "eval.every_steps=10000", "eval.episodes=5",
         "eval.final_episodes=20", "log_every_steps=1000", "plot=false"]
REQUIRED_TAGS = [
    "charts/episodic_return", "charts/episodic_length", "charts/SPS", "charts/learning_rate",
    "charts/ent_coef",
    "losses/policy_loss", "losses/value_loss", "losses/entropy", "losses/explained_variance",
    "losses/grad_norm", "eval/mean_return", "eval/std_return",
    "diagnostics/return_variance", "diagnostics/adv_norm_fallback_count", "diagnostics/rss_mb",
]
#: Tags whose values depend on the machine's speed and memory, not on the seed.
MEASURED_TAGS = {"charts/SPS", "diagnostics/rss_mb"}


@pytest.fixture(scope="module")
def cartpole_run(tmp_path_factory) -> Path:
    """One real CartPole training run of the console script, shared by the checks below."""
    run_dir = tmp_path_factory.mktemp("cartpole") / "run"
    a2c_train([*QUICK, "seed=1", f"hydra.run.dir={run_dir}"], quiet_env())
    return run_dir


def test_run_directory_layout(cartpole_run):
    assert (cartpole_run / ".hydra" / "config.yaml").is_file()
    assert (cartpole_run / ".hydra" / "overrides.yaml").is_file()
    assert "final evaluation" in (cartpole_run / "train.log").read_text()
    assert list(cartpole_run.glob("events.out.tfevents.*"))
    ckpt = torch.load(cartpole_run / "checkpoints" / "final.pt", weights_only=True)
    assert {"model", "optimizer", "obs_rms", "global_step", "config"} <= set(ckpt)
    assert ckpt["config"]["env"]["id"] == "CartPole-v1"


def test_metrics_json(cartpole_run):
    m = json.loads((cartpole_run / "metrics.json").read_text())
    assert m["status"] == "completed" and m["final_eval_episodes"] == 20
    assert m["target_return"] == 475.0
    assert m["solved"] == (m["final_eval_mean_return"] >= 475.0)
    assert m["total_timesteps"] == 30000 - 30000 % 40
    assert m["wall_time_s"] > 0 and m["sps"] > 0
    assert 50 < m["peak_rss_mb"] < 4096  # torch + gymnasium + tensorboard: a few hundred MiB
    assert isinstance(m["final_eval_std_return"], float)


def test_short_cartpole_training_learns(cartpole_run):
    m = json.loads((cartpole_run / "metrics.json").read_text())
    # A random policy scores about 22 on CartPole-v1.
    assert m["final_eval_mean_return"] > 100, m


def test_tensorboard_scalars_on_env_step_axis(cartpole_run):
    s = scalars(cartpole_run)
    missing = [t for t in REQUIRED_TAGS if t not in s]
    assert not missing, missing
    returns = s["charts/episodic_return"]
    assert len(returns) > 50 and all(0 < step <= 30000 for step, _ in returns)
    assert [step for step, _ in s["eval/mean_return"]] == [10000, 20000, 30000]
    loss_steps = [step for step, _ in s["losses/value_loss"]]
    assert loss_steps == sorted(set(loss_steps)) and loss_steps[0] >= 1000
    # episodic returns on CartPole are episode lengths
    lengths = dict(s["charts/episodic_length"])
    assert all(lengths[step] == pytest.approx(value) for step, value in returns[-5:])


def test_config_text_logged(cartpole_run):
    acc = EventAccumulator(str(cartpole_run), size_guidance={"tensors": 0})
    acc.Reload()
    assert "config/text_summary" in acc.Tags()["tensors"]


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_same_seed_gives_identical_scalars(tmp_path, backend):
    args = ["env=cartpole", "total_timesteps=6000", "eval.every_steps=3000", "eval.episodes=3",
            "eval.final_episodes=5", "log_every_steps=400", f"backend={backend}", "seed=3"]
    for name in ("a", "b"):
        train_in_process(args, tmp_path / name)
    sa, sb = scalars(tmp_path / "a"), scalars(tmp_path / "b")
    deterministic = {t: v for t, v in sa.items() if t not in MEASURED_TAGS}
    assert deterministic == {t: v for t, v in sb.items() if t not in MEASURED_TAGS}
    ma, mb = (json.loads((tmp_path / n / "metrics.json").read_text()) for n in ("a", "b"))
    timing = {"wall_time_s", "train_time_s", "sps", "first_solved_eval", "peak_rss_mb"}
    assert {k: v for k, v in ma.items() if k not in timing} == \
        {k: v for k, v in mb.items() if k not in timing}
    assert ma["final_eval_returns"]  # a real evaluation was compared
    # a different seed gives a different run
    train_in_process([*args[:-1], "seed=4"], tmp_path / "c")
    assert scalars(tmp_path / "c")["charts/episodic_return"] != sa["charts/episodic_return"]


def test_two_job_multirun(tmp_path, subprocess_env):
    sweep = tmp_path / "sweep"
    a2c_train(["-m", "env=cartpole", "total_timesteps=2000", "eval.every_steps=0",
               "eval.final_episodes=3", "seed=0,1", f"hydra.sweep.dir={sweep}"], subprocess_env)
    seeds = []
    for job in ("0", "1"):
        m = json.loads((job_dir(sweep, job) / "metrics.json").read_text())
        assert m["status"] == "completed"
        seeds.append(m["seed"])
        assert list(job_dir(sweep, job).glob("events.out.tfevents.*"))
        assert (job_dir(sweep, job) / "train.log").is_file()
    assert seeds == [0, 1]
    assert (sweep / "multirun.yaml").is_file()


def test_default_run_and_sweep_dirs_are_under_outputs(tmp_path, subprocess_env):
    a2c_train(["env=cartpole", "total_timesteps=400", "eval.every_steps=0",
               "eval.final_episodes=1"], subprocess_env, cwd=tmp_path)
    runs = list((tmp_path / "outputs").glob("*/*/metrics.json"))
    assert len(runs) == 1
    a2c_train(["-m", "env=cartpole", "total_timesteps=400", "eval.every_steps=0",
               "eval.final_episodes=1", "seed=0,1"], subprocess_env, cwd=tmp_path)
    assert len(list((tmp_path / "outputs" / "multirun").glob("*/*/*/metrics.json"))) == 2


def test_help_does_not_import_torch():
    code = ("import sys; import a2c_cli.cli.train; "
            "print(any(m == 'torch' or m.startswith('gymnasium') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_help_lists_config_groups(subprocess_env):
    out = a2c_train(["--help"], subprocess_env).stdout
    assert "env: " in out and "lunar_continuous" in out and "network:" in out


@pytest.mark.parametrize("override, key", [
    ("algo.gamma=2", "algo.gamma"),
    ("num_envs=0", "num_envs"),
    ("env.id=NoSuchEnv-v0", "NoSuchEnv"),
    ("device=cuda", "device"),
])
def test_bad_input_is_one_line_exit_2_no_traceback(tmp_path, subprocess_env, override, key):
    if override == "device=cuda" and torch.cuda.is_available():
        pytest.skip("a GPU is present")
    proc = a2c_train(["env=cartpole", override, f"hydra.run.dir={tmp_path}"], subprocess_env,
                     check=False)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    error_lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(error_lines) == 1 and key in error_lines[0], proc.stderr
