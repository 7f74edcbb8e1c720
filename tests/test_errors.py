"""Bad input and faults: one clear line, a non-zero exit, no traceback, nothing lost."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
import torch

from a2c_cli.training import checkpoint
from a2c_cli.training.checkpoint import load_checkpoint, save_checkpoint

from .conftest import REPO, a2c_train, job_dir

# (override, text the single error line must contain)
BAD_INPUTS = [
    ("num_envs=0", "num_envs=0"),
    ("num_envs=-3", "num_envs=-3"),
    ("algo.n_steps=0", "algo.n_steps=0"),
    ("algo.gamma=0", "algo.gamma"),
    ("algo.gamma=1.01", "algo.gamma"),
    ("algo.gae_lambda=1.5", "algo.gae_lambda"),
    ("algo.lr=-1e-3", "algo.lr"),
    ("algo.lr=nan", "algo.lr"),
    ("algo.lr=fast", "algo.lr=fast"),
    ("algo.max_grad_norm=0", "algo.max_grad_norm"),
    ("algo.vf_coef=-1", "algo.vf_coef"),
    ("algo.ent_coef=-0.1", "algo.ent_coef"),
    ("algo.ema_decay=1.0", "algo.ema_decay=1.0"),
    ("algo.optimizer=sgd", "algo.optimizer"),
    ("algo.lr_schedule=cosine", "algo.lr_schedule"),
    ("algo.ent_schedule=cosine", "algo.ent_schedule"),
    ("algo.lrr=1e-3", "algo.lrr"),
    ("total_timesteps=10", "total_timesteps"),
    ("network.activation=swish", "network.activation"),
    ("network.dropout=1", "network.dropout"),
    ("network.shared=[0]", "network.shared"),
    ("network.shared=[a]", "network.shared"),
    ("network.log_std_init=-1", "log_std_init"),
    ("eval.episodes=0", "eval.episodes"),
    ("eval.final_episodes=-1", "eval.final_episodes"),
    ("eval.num_envs=0", "eval.num_envs"),
    ("eval.deterministic_action=mode", "eval.deterministic_action"),
    ("eval.every_steps=-5", "eval.every_steps"),
    ("checkpoint.every_steps=-1", "checkpoint.every_steps"),
    ("device=tpu", "device"),
    ("vec_env=threads", "vec_env"),
    ("progress=fancy", "progress"),
    ("env=lunar_discrte", "lunar_discrete"),          # unknown group option: lists options
    ("network=huge", "network/huge"),
    ("env.id=CartPol-v1", "CartPole-v1"),             # close match suggested
    ("env.id=nosuchmodule:Foo-v0", "nosuchmodule"),
    ("env.id=tests.fault_envs:NestedDictObs-v0", "nested Dict"),  # an unsupported space
    ("env.kwargs.not_an_option=1", "not_an_option"),
    ("resume=/no/such/run", "no such run directory"),
    ("algo.lr==", "algo.lr=="),
    ("env.id=MinAtar/Breakout-v1", "MinAtar/Breakout-v1"),  # images, but an MLP network
    ("network=nature_cnn", "network.encoder='nature_cnn'"),  # a CNN on vector observations
    ("env.atari=true", "env.atari"),
]


@pytest.mark.parametrize("override, expected", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_one_line_exit_2(tmp_path, subprocess_env, override, expected):
    run_dir = tmp_path / "run"
    args = ["env=cartpole", override] if not override.startswith("resume=") else [override]
    proc = a2c_train([*args, f"hydra.run.dir={run_dir}"] if "resume" not in override else args,
                     subprocess_env, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "Traceback" not in out
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("a2c-train: error: "), proc.stderr
    assert expected in lines[0], lines[0]
    assert not run_dir.exists()  # checked before Hydra creates the run directory


def test_device_cuda_without_gpu(tmp_path, subprocess_env):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    proc = a2c_train(["env=cartpole", "device=cuda", f"hydra.run.dir={tmp_path / 'r'}"],
                     subprocess_env, check=False)
    assert proc.returncode == 2 and "device='cuda'" in proc.stderr


def test_two_hydra_modes_one_line(tmp_path, subprocess_env):
    proc = a2c_train(["-m", "env=cartpole", f"hydra.sweep.dir={tmp_path / 's'}", "--info"],
                     subprocess_env, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().startswith("a2c-train: error: Only one of --run")
    assert not (tmp_path / "s").exists()


def test_debug_shows_the_traceback(tmp_path, subprocess_env):
    proc = a2c_train(["env=cartpole", "algo.gamma=2", "debug=true",
                      f"hydra.run.dir={tmp_path / 'r'}"], subprocess_env, check=False)
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_unwritable_output_directory(tmp_path, subprocess_env):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    proc = a2c_train(["env=cartpole", "total_timesteps=400", f"hydra.run.dir={blocker / 'run'}"],
                     subprocess_env, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert str(blocker) in proc.stderr
    assert blocker.read_text() == "not a directory"


def nan_env(subprocess_env: dict) -> dict:
    return dict(subprocess_env, PYTHONPATH=str(REPO))


def test_divergence_stops_cleanly_and_keeps_the_last_good_checkpoint(tmp_path, subprocess_env):
    run_dir = tmp_path / "run"
    proc = a2c_train(["env=cartpole", "env.id=tests.fault_envs:NanAfter-v0",
                      "checkpoint.every_steps=1000", f"hydra.run.dir={run_dir}"],
                     nan_env(subprocess_env), check=False)
    assert proc.returncode == 3, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "diverged at step 4000" in lines[0] and "policy_loss" in lines[0]
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["status"] == "diverged" and m["diverged_at_step"] == 4000
    last = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert last["global_step"] == 4000
    assert all(torch.isfinite(t).all() for t in last["model"].values())
    assert not (run_dir / "checkpoints" / "final.pt").exists()


def test_diverging_multirun_job_does_not_stop_the_others(tmp_path, subprocess_env):
    sweep = tmp_path / "sweep"
    proc = a2c_train(["-m", "env=cartpole", "env.id=tests.fault_envs:NanAfter-v0,CartPole-v1",
                      "total_timesteps=8000", "eval.every_steps=0", "eval.final_episodes=5",
                      f"hydra.sweep.dir={sweep}"], nan_env(subprocess_env), check=False)
    assert proc.returncode == 3
    statuses = [json.loads((job_dir(sweep, j) / "metrics.json").read_text())["status"]
                for j in "01"]
    assert statuses == ["diverged", "completed"]


def test_failed_checkpoint_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "checkpoints" / "last.pt"
    good = {"model": {"w": torch.ones(3)}, "config": {"seed": 1}, "global_step": 10}
    save_checkpoint(path, good)

    def disk_full(obj, f, *args, **kwargs):
        f.write(b"partial bytes")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint.torch, "save", disk_full)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(path, {"model": {"w": torch.zeros(3)}, "config": {}, "global_step": 20})
    monkeypatch.undo()
    restored = load_checkpoint(path)
    assert restored["global_step"] == 10 and torch.equal(restored["model"]["w"], torch.ones(3))
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]  # no temp file left


def test_checkpoints_refuse_pickled_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "config": {}, "payload": Evil()}, path)
    with pytest.raises(checkpoint.CheckpointError, match="cannot be read"):
        load_checkpoint(Path(path))
