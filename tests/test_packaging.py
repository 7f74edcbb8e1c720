"""a2c-train from a built, non-editable wheel, run from an unrelated directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from .conftest import REPO


def test_installed_wheel_runs_from_any_directory(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(wheels), str(REPO)], check=True)
    (wheel,) = wheels.glob("a2c_cli-*.whl")
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    str(site), str(wheel)], check=True)
    assert (site / "a2c_cli" / "conf" / "config.yaml").is_file()
    assert (site / "a2c_cli" / "data" / "references.yaml").is_file()

    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    env = dict(os.environ, PYTHONPATH=str(site), NO_COLOR="1")
    where = subprocess.run([sys.executable, "-c", "import a2c_cli.config as c; "
                            "print(c.__file__); print(c.find_config_dir())"],
                           cwd=workdir, env=env, capture_output=True, text=True, check=True)
    module_file, conf_dir = where.stdout.split()
    assert module_file.startswith(str(site)) and conf_dir.startswith(str(site))

    subprocess.run([str(site / "bin" / "a2c-train"), "env=cartpole", "total_timesteps=400",
                    "eval.every_steps=0", "eval.final_episodes=1"],
                   cwd=workdir, env=env, capture_output=True, text=True, check=True)
    (metrics,) = (workdir / "outputs").glob("*/*/metrics.json")
    assert json.loads(metrics.read_text())["status"] == "completed"
