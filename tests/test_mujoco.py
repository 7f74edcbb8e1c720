"""gymnasium's MuJoCo envs: the missing package in one line, a short real run that trains,
evaluates, checkpoints and writes a video headlessly, and a renderer that fails without
costing the run."""

from __future__ import annotations

import json

import pytest

from a2c_cli.config import EnvConfig

from .conftest import a2c_train, train_in_process

pytest.importorskip("mujoco")

#: The HalfCheetah preset with 50-step episodes: a few seconds of real MuJoCo.
SHORT = ["env=half_cheetah", "env.max_episode_steps=50",
         "total_timesteps=2000", "eval.every_steps=0", "eval.final_episodes=2", "plot=false"]


def test_a_missing_mujoco_is_one_line_naming_the_extra(tmp_path, subprocess_env):
    hidden = tmp_path / "hide"
    hidden.mkdir()
    (hidden / "mujoco.py").write_text("raise ImportError('No module named mujoco')\n")
    proc = a2c_train(["env.id=HalfCheetah-v5", f"hydra.run.dir={tmp_path / 'run'}"],
                     dict(subprocess_env, PYTHONPATH=str(hidden)), check=False)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "a2c-cli[mujoco]" in lines[0] and not (tmp_path / "run").exists()


def test_headless_rendering_picks_a_gl_backend_or_says_which_to_install(monkeypatch):
    from a2c_cli.errors import ConfigError
    from a2c_cli.outputs.video import require_rendering

    monkeypatch.delenv("MUJOCO_GL", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    try:
        require_rendering(EnvConfig(id="HalfCheetah-v5"), "video.enabled")
    except ConfigError as exc:  # a machine with neither EGL nor OSMesa
        assert "MUJOCO_GL=egl" in str(exc) and "libosmesa6" in str(exc)
        pytest.skip(f"no headless OpenGL here: {exc}")
    import os

    assert os.environ["MUJOCO_GL"] in ("egl", "osmesa")


def test_a_mujoco_run_trains_evaluates_checkpoints_and_records_a_video(tmp_path, monkeypatch):
    from a2c_cli.outputs.video import require_rendering

    monkeypatch.delenv("MUJOCO_GL", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    require_rendering(EnvConfig(id="HalfCheetah-v5"), "video.enabled")  # as a2c-train does
    run = tmp_path / "run"
    m = train_in_process([*SHORT, "video.enabled=true", "video.count=1"], run)
    assert m["status"] == "completed" and m["final_eval_episodes"] == 2
    assert (run / "checkpoints" / "final.pt").is_file()
    videos = list((run / "videos").glob("*.mp4"))
    assert videos and videos[0].stat().st_size > 1000


def test_a_failing_renderer_does_not_cost_the_run(tmp_path, subprocess_env):
    """MUJOCO_GL=glfw without a display is the traceback a new user met; the video is
    logged as failed and the run completes."""
    run = tmp_path / "run"
    proc = a2c_train([*SHORT, "video.enabled=true", "video.count=1", "progress=none",
                      f"hydra.run.dir={run}"], dict(subprocess_env, MUJOCO_GL="glfw"),
                     check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((run / "metrics.json").read_text())["status"] == "completed"
    assert "failed, training goes on" in (run / "train.log").read_text()
