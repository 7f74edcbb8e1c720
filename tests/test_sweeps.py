"""Sweeps: parallel (joblib) and submitit launchers, Optuna, HParams, a2c-report."""

from __future__ import annotations

import csv
import json
import statistics
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from .conftest import A2C_REPORT, A2C_TRAIN, REPO, a2c_train, job_dir, job_dirs

TINY = ["env=cartpole", "total_timesteps=2000", "eval.every_steps=0", "eval.final_episodes=5",
        "plot=false"]


def statuses(sweep: Path) -> dict[str, str]:
    return {d.name.split("_", 1)[0]: json.loads((d / "metrics.json").read_text())["status"]
            for d in job_dirs(sweep) if (d / "metrics.json").is_file()}


def test_joblib_launcher_runs_jobs_in_parallel_processes(tmp_path, subprocess_env):
    sweep = tmp_path / "sweep"
    a2c_train(["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", *TINY, "seed=0,1,2",
               f"hydra.sweep.dir={sweep}"], subprocess_env)
    assert statuses(sweep) == {"0": "completed", "1": "completed", "2": "completed"}
    seeds = [json.loads((job_dir(sweep, j) / "metrics.json").read_text())["seed"] for j in "012"]
    assert seeds == [0, 1, 2]
    # Each job logs to its own train.log (plain lines, no progress bar from workers).
    for job in "012":
        log = (job_dir(sweep, job) / "train.log").read_text()
        assert "final evaluation" in log and "━" not in log


def test_submitit_local_launcher(tmp_path, subprocess_env):
    sweep = tmp_path / "sweep"
    a2c_train(["-m", "hydra/launcher=submitit_local", *TINY, "seed=0,1",
               f"hydra.sweep.dir={sweep}"], subprocess_env)
    assert statuses(sweep) == {"0": "completed", "1": "completed"}
    for job in "01":
        m = json.loads((job_dir(sweep, job) / "metrics.json").read_text())
        assert m["final_eval_episodes"] == 5 and m["total_timesteps"] == 2000


def test_slurm_launcher_config_composes():
    from hydra import compose, initialize_config_dir

    from a2c_cli.config import find_config_dir, register_configs

    from .conftest import compose_config

    register_configs()  # the schema (a2c-train registers it on import)
    with initialize_config_dir(config_dir=str(find_config_dir()), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["hydra/launcher=slurm"],
                      return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert "submitit_slurm" in launcher._target_.lower() or "Slurm" in launcher._target_
    assert launcher.cpus_per_task == 4 and launcher.array_parallelism == 32
    assert compose_config(["sweep=lunar_discrete_optuna"]).total_timesteps == 1_000_000


@pytest.mark.slow  # four trials in two worker processes (make test-slow)
def test_optuna_sweep_writes_results(tmp_path, subprocess_env):
    sweep = tmp_path / "sweep"
    a2c_train(["-m", "sweep=cartpole_optuna", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
               f"hydra.sweep.dir={sweep}"], subprocess_env)
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert set(results["best_params"]) == {"algo.lr", "algo.n_steps"}
    scores = [json.loads((job_dir(sweep, j) / "metrics.json").read_text())["final_eval_mean_return"]
              for j in "0123"]
    assert results["best_value"] == pytest.approx(max(scores))


def test_optuna_trial_that_diverges_does_not_abort_the_sweep(tmp_path, subprocess_env):
    sweep = tmp_path / "sweep"
    a2c_train(["-m", "sweep=cartpole_optuna_diverging", f"hydra.searchpath=[file://{REPO}/tests/conf]",
               "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={sweep}"],
              subprocess_env)
    found = statuses(sweep)
    assert "diverged" in found.values() and "completed" in found.values(), found
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert results["best_params"]["algo.lr"] == 0.001


def test_hparams_of_a_sweep_lead_with_what_it_varies(tmp_path, subprocess_env):
    """Each job's own event file holds its session (hyperparameters, a trial named by the
    swept keys' values) and no experiment summary, so a real TensorBoard builds the
    experiment from the jobs: the swept keys (algo.lr, seed) come first."""
    sweep = tmp_path / "sweep"
    a2c_train(["-m", *TINY, "algo.lr=0.001,0.003", "seed=0,1", f"hydra.sweep.dir={sweep}"],
              subprocess_env)
    for job, lr in (("0", 0.001), ("3", 0.003)):
        assert not [p for p in job_dir(sweep, job).iterdir() if p.is_dir() and p.name[0].isdigit()]
        acc = EventAccumulator(str(job_dir(sweep, job)), size_guidance={"tensors": 0})
        acc.Reload()
        content = acc.PluginTagToContent("hparams")
        assert "_hparams_/experiment" not in content
        start = plugin_data_pb2.HParamsPluginData.FromString(
            content["_hparams_/session_start_info"]).session_start_info
        assert start.hparams["algo.lr"].number_value == pytest.approx(lr)
        assert start.hparams["env.id"].string_value == "CartPole-v1"
        assert start.group_name == f"algo.lr={lr},seed={int(job) % 2} @ sweep"
    experiment = tensorboard_experiment(sweep, subprocess_env)
    names = [h["name"] for h in experiment["hparamInfos"]]
    assert names[:2] == ["algo.lr", "seed"], names[:8]
    assert all(h.get("differs") for h in experiment["hparamInfos"][:2])
    assert not any(h.get("differs") for h in experiment["hparamInfos"][2:])
    assert "eval/final_mean_return" in [m["name"]["tag"] for m in experiment["metricInfos"]]


def tensorboard_experiment(logdir: Path, env: dict) -> dict:
    """The HParams experiment a real TensorBoard server computes for ``logdir``."""
    import re
    import urllib.request

    proc = subprocess.Popen([str(Path(A2C_TRAIN).parent / "tensorboard"), "--logdir",
                             str(logdir), "--port", "0", "--host", "127.0.0.1"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, url = time.monotonic() + 60, None
        while url is None:
            assert time.monotonic() < deadline and proc.poll() is None, "no TensorBoard"
            found = re.search(r"(http://127\.0\.0\.1:\d+/)", proc.stdout.readline())
            url = found.group(1) if found else None
        request = urllib.request.Request(url + "data/plugin/hparams/experiment",
                                         data=b'{"experimentName": ""}', method="POST",
                                         headers={"Content-Type": "application/json"})
        while True:  # until the server has read the runs
            experiment = json.loads(urllib.request.urlopen(request, timeout=30).read())
            if len(experiment.get("hparamInfos", [])) > 2 or time.monotonic() > deadline:
                return experiment
            time.sleep(0.5)
    finally:
        proc.kill()
        proc.wait()


def test_report_groups_seeds_and_lists_unfinished_runs(tmp_path, subprocess_env):
    sweep = tmp_path / "sweep"
    a2c_train(["-m", *TINY, "algo.n_steps=5,16", "seed=0,1,2", f"hydra.sweep.dir={sweep}"],
              subprocess_env)
    unfinished = job_dir(sweep, "5")
    (unfinished / "metrics.json").unlink()  # as if that job had been killed
    proc = subprocess.run([A2C_REPORT, str(sweep)], env=subprocess_env, capture_output=True,
                          text=True, check=True)
    assert "algo.n_steps=5" in proc.stdout and "unfinished" in proc.stdout

    expected: dict[str, list[float]] = {"5": [], "16": []}
    for job in job_dirs(sweep):
        overrides = (job / ".hydra" / "overrides.yaml").read_text()
        n_steps = "16" if "algo.n_steps=16" in overrides else "5"
        if (job / "metrics.json").is_file():
            expected[n_steps].append(
                json.loads((job / "metrics.json").read_text())["final_eval_mean_return"])
    rows = {r["setting"]: r for r in csv.DictReader((sweep / "report.csv").open())}
    for n_steps, scores in expected.items():
        row = rows[f"algo.n_steps={n_steps}"]
        assert float(row["mean"]) == pytest.approx(statistics.fmean(scores))
        assert float(row["std"]) == pytest.approx(statistics.pstdev(scores))
        assert row["seeds"] == "0 1 2" and row["runs"] == "3"
    assert rows["algo.n_steps=16"]["not_completed"] == f"{unfinished.name}: unfinished"
    assert (sweep / "report.png").read_bytes()[:4] == b"\x89PNG"


def test_report_bad_path(subprocess_env, tmp_path):
    proc = subprocess.run([A2C_REPORT, str(tmp_path / "nothing")], env=subprocess_env,
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "is not a directory" in proc.stderr
    proc = subprocess.run([A2C_REPORT, str(tmp_path)], env=subprocess_env,
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "no a2c-train runs" in proc.stderr


def test_report_to_a_file_keeps_every_setting_in_full(tmp_path, subprocess_env):
    """Redirected output has no terminal width: nothing may be cut (a 40-character value)."""
    sweep = tmp_path / "sweep"
    long_id = "tests.fault_envs:CartPoleWithAVeryLongName-v1"
    assert len(long_id) >= 40
    env = dict(subprocess_env, PYTHONPATH=str(REPO))
    a2c_train(["-m", *TINY, f"env.id={long_id},CartPole-v1", f"hydra.sweep.dir={sweep}"], env)
    report_txt = tmp_path / "report.txt"
    with report_txt.open("w") as out:
        subprocess.run([A2C_REPORT, str(sweep), "--no-plot"], env=env, stdout=out, check=True)
    text = report_txt.read_text()
    assert f"env.id={long_id}" in text and "env.id=CartPole-v1" in text, text
