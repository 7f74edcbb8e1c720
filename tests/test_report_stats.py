"""a2c-report's benchmark statistics: the IQM and its stratified-bootstrap CI are rliable's,
on a synthetic suite of runs; the normalised-score references load and are used."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Dict, Optional

import numpy as np
import pytest
import yaml

from a2c_cli.cli import report_stats as st

pytest.importorskip("rliable.library", reason="the stats extra is not installed")

SUITE = {  # task -> (env config, synthetic final scores of 5 seeds)
    "CartPole-v1": ({"id": "CartPole-v1", "kwargs": {}}, [500.0, 480.0, 500.0, 310.0, 500.0]),
    "LunarLander-v3": ({"id": "LunarLander-v3", "kwargs": {}}, [251.0, 230.0, 270.0, 120.0,
                                                                  244.0]),
    "LunarLanderContinuous-v3": ({"id": "LunarLander-v3", "kwargs": {"continuous": True}},
                                 [260.0, 255.0, 90.0, 265.0, 270.0]),
}


def fake_suite(root: Path, steps: Optional[Dict[str, int]] = None, suite: Dict = SUITE) -> None:
    """Run directories as a2c-train leaves them (config and metrics), tasks x seeds; each
    task trained ``steps[task]`` agent steps (1000 by default)."""
    for task, (env, scores) in suite.items():
        for seed, score in enumerate(scores):
            run = root / f"{task}_{seed}"
            (run / ".hydra").mkdir(parents=True)
            (run / ".hydra" / "config.yaml").write_text(yaml.safe_dump({"env": env,
                                                                        "seed": seed}))
            (run / "metrics.json").write_text(json.dumps({
                "status": "completed", "final_eval_mean_return": score, "solved": False,
                "total_timesteps": (steps or {}).get(task, 1000), "wall_time_s": 60.0 + seed,
                "seed": seed}))


def test_references_load_for_every_benchmark_task():
    refs = st.load_references()
    atari = {f"ALE/{game}-v5" for game in ("Pong", "Breakout", "SpaceInvaders", "Qbert",
                                           "Seaquest", "BeamRider")}
    mujoco = {f"{task}-v5" for task in ("HalfCheetah", "Hopper", "Walker2d", "Ant", "Humanoid",
                                        "Swimmer")}
    assert set(refs) == {"CartPole-v1", "Acrobot-v1", "MountainCar-v0",
                         "MountainCarContinuous-v0", "Pendulum-v1", "LunarLander-v3",
                         "LunarLanderContinuous-v3", "BipedalWalker-v3", *atari, *mujoco}
    assert refs["LunarLander-v3"].rl_zoo_a2c == 155.8
    assert refs["ALE/Pong-v5"].rl_zoo_a2c == 17.3
    assert all(refs[t].rl_zoo_steps == 10_000_000 for t in atari)  # agent steps, 40M frames
    assert refs["Humanoid-v5"].rl_zoo_steps == 2_000_000
    assert all(refs[t].rl_zoo_steps == 1_000_000 for t in mujoco - {"Humanoid-v5"})
    assert all(r.random < r.rl_zoo_a2c for r in refs.values())
    assert st.task_name({"env.id": "LunarLander-v3", "env.kwargs.continuous": True}) == \
        "LunarLanderContinuous-v3"


def test_report_iqm_and_ci_equal_rliables_and_use_the_references(tmp_path, monkeypatch):
    from rliable import library, metrics

    from a2c_cli.cli.report import report

    monkeypatch.setattr(st, "REPS", 4_000)  # fewer replications: the same code, faster
    fake_suite(tmp_path)
    report(tmp_path, plot=True)
    rows = {r["task"]: r for r in csv.DictReader((tmp_path / "benchmark.csv").open())}
    assert set(rows) == set(SUITE)
    iqm = lambda x: np.array([metrics.aggregate_iqm(x)])  # noqa: E731
    refs = st.load_references()
    for task, (_, scores) in SUITE.items():
        data = {task: np.array(scores)[:, None]}
        np.random.seed(st.SEED)  # rliable's stratified bootstrap also draws from it
        point, ci = library.get_interval_estimates(
            data, iqm, reps=st.REPS, random_state=np.random.RandomState(st.SEED))
        row = rows[task]
        assert float(row["iqm"]) == pytest.approx(point[task][0])
        assert float(row["ci_low"]) == pytest.approx(ci[task][0, 0])
        assert float(row["ci_high"]) == pytest.approx(ci[task][1, 0])
        assert float(row["mean"]) == pytest.approx(np.mean(scores))
        assert (float(row["wall_time_s_min"]), float(row["wall_time_s_max"])) == (60.0, 64.0)
        ref = refs[task]
        assert float(row["normalized_iqm"]) == pytest.approx(
            (point[task][0] - ref.random) / (ref.rl_zoo_a2c - ref.random))
    # the aggregate: stratified over tasks, on normalised scores
    matrix, names = st.aggregate({t: v for t, (_, v) in SUITE.items()}, refs)
    expected = np.stack([(np.array(SUITE[t][1]) - refs[t].random) /
                         (refs[t].rl_zoo_a2c - refs[t].random) for t in names], axis=1)
    np.testing.assert_allclose(matrix, expected)
    (got,) = st.iqm_ci({"all": matrix}).values()
    np.random.seed(st.SEED)
    point, ci = library.get_interval_estimates({"all": expected}, iqm, reps=st.REPS,
                                               random_state=np.random.RandomState(st.SEED))
    assert got == pytest.approx((point["all"][0], ci["all"][0, 0], ci["all"][1, 0]))
    assert (tmp_path / "benchmark_profile.png").read_bytes()[:4] == b"\x89PNG"


def test_runs_longer_than_rl_zoos_budget_are_not_compared_with_it(tmp_path, monkeypatch,
                                                                  capsys):
    """LunarLander-v3 at 3M steps against rl-zoo's 200k: no normalised score, out of the
    aggregate, and a line says why; CartPole at fewer steps than rl-zoo's is compared."""
    from a2c_cli.cli.report import report

    monkeypatch.setattr(st, "REPS", 1_000)
    fake_suite(tmp_path, steps={"LunarLander-v3": 3_000_000, "CartPole-v1": 150_000,
                                "LunarLanderContinuous-v3": 5_000_000})
    report(tmp_path, plot=False)
    out = capsys.readouterr().out
    rows = {r["task"]: r for r in csv.DictReader((tmp_path / "benchmark.csv").open())}
    assert rows["LunarLander-v3"]["normalized_iqm"] == ""
    assert rows["LunarLander-v3"]["within_budget"] == "False"
    assert rows["CartPole-v1"]["normalized_iqm"] != ""
    assert rows["LunarLanderContinuous-v3"]["normalized_iqm"] != ""  # equal: 5M and 5M
    assert ("LunarLander-v3: not compared with rl-zoo's A2C: these runs trained 3,000,000 "
            "agent steps, rl-zoo's 200,000") in " ".join(out.split())
    assert "aggregate normalised IQM over 2 tasks" in out


def test_atari_budgets_show_agent_steps_and_frames(tmp_path, capsys, monkeypatch):
    from a2c_cli.cli.report import report

    monkeypatch.setattr(st, "REPS", 1_000)  # the table is the point here, not the CI

    run = tmp_path / "pong_0"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "config.yaml").write_text(yaml.safe_dump(
        {"env": {"id": "ALE/Pong-v5", "atari": True}, "seed": 0}))
    (run / "metrics.json").write_text(json.dumps({
        "status": "completed", "final_eval_mean_return": 18.0, "solved": False,
        "total_timesteps": 10_000_000, "agent_steps": 10_000_000, "frames": 40_000_000,
        "wall_time_s": 1.0}))
    report(tmp_path, plot=False)
    assert "10,000,000 (40,000,000 frames)" in capsys.readouterr().out
    (row,) = csv.DictReader((tmp_path / "report.csv").open())
    assert row["steps"] == "10000000.0" and row["frames"] == "40000000.0"


def test_a_hyperparameter_sweep_gets_no_benchmark_table(tmp_path):
    from a2c_cli.cli.report import report

    for lr in (0.001, 0.002):
        run = tmp_path / str(lr)
        (run / ".hydra").mkdir(parents=True)
        (run / ".hydra" / "config.yaml").write_text(yaml.safe_dump(
            {"env": {"id": "CartPole-v1"}, "algo": {"lr": lr}, "seed": 0}))
        (run / "metrics.json").write_text(json.dumps({
            "status": "completed", "final_eval_mean_return": 100.0, "solved": False,
            "total_timesteps": 1000, "wall_time_s": 1.0}))
    report(tmp_path, plot=False)
    assert not (tmp_path / "benchmark.csv").exists()


def test_small_scores_keep_three_decimals_in_the_tables():
    """FrozenLake's 0.722 would read 0.7 at one decimal, and 0.71-0.74 all look alike."""
    from a2c_cli.cli.report import score_digits

    assert score_digits(0.722) == 3 and score_digits(-4.5) == 3
    assert score_digits(239.8) == 1 and score_digits(-105.5) == 1


def test_profile_axis_is_not_stretched_by_one_task_with_a_near_random_reference():
    """MuJoCo's suite: Ant normalises to ~200-350 (rl-zoo's A2C barely beats random); the
    axis must still show where the other tasks' runs cross 1-5."""
    others = np.array([0.8, 1.2, 1.4, 1.5, 1.7, 2.5, 3.6, 5.2] * 3)
    matrix = np.concatenate([others, [240.0, 235.0, 350.0, 200.0, 230.0]])
    taus = st.profile_taus(matrix)
    assert 5.2 <= taus[-1] < 20.0
    assert taus[0] == 0.0 and len(taus) == 81
    # Without an outlier the axis reaches the best run, and never ends below 2.
    assert taus[-1] != st.profile_taus(others)[-1]
    assert st.profile_taus(others)[-1] == pytest.approx(5.2 * 1.05)
    assert st.profile_taus(np.array([0.9, 1.0, 1.1]))[-1] == 2.0
