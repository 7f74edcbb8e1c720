"""Benchmark statistics for ``a2c-report``, after Agarwal et al., "Deep Reinforcement
Learning at the Edge of the Statistical Precipice" (NeurIPS 2021), computed by their
``rliable`` library (the ``stats`` extra): per task the interquartile mean (IQM) of the
seeds' final scores with a 95% stratified-bootstrap confidence interval; across tasks the
same for scores normalised between random play (0) and rl-zoo's A2C (1), and a performance
profile. The references live in ``a2c_cli/data/references.yaml``, with their sources.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np

REFERENCES_FILE = Path(__file__).resolve().parents[1] / "data" / "references.yaml"
#: Bootstrap replications and the seed of their RNG (reports are reproducible).
REPS = 20_000
SEED = 0


@dataclass(frozen=True)
class Reference:
    random: float
    rl_zoo_a2c: float
    rl_zoo_steps: int

    def normalize(self, score: np.ndarray) -> np.ndarray:
        """0 = random play, 1 = rl-zoo's A2C."""
        return (score - self.random) / (self.rl_zoo_a2c - self.random)


def load_references(path: Path = REFERENCES_FILE) -> Dict[str, Reference]:
    from omegaconf import OmegaConf

    data = OmegaConf.to_container(OmegaConf.load(path))
    return {task: Reference(float(v["random"]), float(v["rl_zoo_a2c"]), int(v["rl_zoo_steps"]))
            for task, v in data.items()}  # type: ignore[union-attr]


def task_name(config: Mapping[str, Any]) -> str:
    """The benchmark task of a run's flattened config (LunarLander's continuous=true is its
    own task, as in rl-zoo)."""
    env_id = str(config.get("env.id"))
    if config.get("env.kwargs.continuous") is True and env_id.startswith("LunarLander"):
        return env_id.replace("LunarLander", "LunarLanderContinuous")
    return env_id


def available() -> Optional[str]:
    """None if rliable can be used, else why not (one line)."""
    try:
        from rliable import library, metrics  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - ImportError, or a broken dependency
        return (f"IQM and confidence intervals need rliable ({type(exc).__name__}): "
                "pip install 'a2c-cli[stats]'")
    return None


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """rliable's stratified bootstrap draws its indices from NumPy's global RNG whatever
    ``random_state`` says: seed that too, and put it back after, so reports reproduce."""
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        with warnings.catch_warnings():  # arch's notice about its own random_state argument
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        np.random.set_state(saved)


def iqm_ci(scores: Mapping[str, np.ndarray], reps: Optional[int] = None, seed: int = SEED
           ) -> Dict[str, Tuple[float, float, float]]:
    """IQM and its 95% stratified-bootstrap CI for each entry: a (runs,) vector of scores on
    one task, or a (runs, tasks) matrix (stratified over tasks)."""
    from rliable import library, metrics

    matrices = {k: v.reshape(len(v), -1) for k, v in scores.items()}
    with _seeded(seed):
        point, interval = library.get_interval_estimates(
            matrices, lambda x: np.array([metrics.aggregate_iqm(x)]),
            reps=REPS if reps is None else reps, random_state=np.random.RandomState(seed))
    return {k: (float(point[k][0]), float(interval[k][0, 0]), float(interval[k][1, 0]))
            for k in matrices}


def aggregate(per_task: Mapping[str, np.ndarray], refs: Mapping[str, Reference]
              ) -> Optional[Tuple[np.ndarray, List[str]]]:
    """The (runs, tasks) matrix of normalised scores over the tasks that have references,
    with the task names; the runs per task are cut to the smallest count (stratified
    bootstrap needs a matrix). None when no task has a reference."""
    tasks = sorted(t for t in per_task if t in refs and len(per_task[t]))
    if not tasks:
        return None
    n = min(len(per_task[t]) for t in tasks)
    columns = [refs[t].normalize(np.asarray(per_task[t][:n], float)) for t in tasks]
    return np.stack(columns, axis=1), tasks


def profile_taus(normalized: np.ndarray) -> np.ndarray:
    """The profile's thresholds: 0 to the best run, but no further than twice the upper
    quartile, so that one task with a near-random reference (Ant: hundreds) cannot squash
    every other task's runs into the first tick; at least 0 to 2."""
    scores = np.asarray(normalized, dtype=float)
    upper = min(float(scores.max()) * 1.05, 2.0 * float(np.percentile(scores, 75)))
    return np.linspace(0.0, max(2.0, upper), 81)


def plot_profile(path: Path, normalized: np.ndarray, label: str = "a2c-cli") -> None:
    """Performance profile: the fraction of runs (all tasks) scoring above tau, with its 95%
    bootstrap band; tau in units of rl-zoo's A2C (1)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from rliable import library, plot_utils

    taus = profile_taus(normalized)
    with _seeded(SEED):
        profiles, cis = library.create_performance_profile({label: normalized}, taus,
                                                           reps=2_000)
    fig = Figure(figsize=(7, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    plot_utils.plot_performance_profiles(profiles, taus, performance_profile_cis=cis, ax=ax,
                                         xlabel=r"normalised score $\tau$ (1 = rl-zoo A2C)")
    ax.axvline(1.0, color="gray", ls="--", lw=1)
    fig.subplots_adjust(left=0.14, bottom=0.16, right=0.97, top=0.95)
    fig.savefig(path, dpi=100)


def within_reference_budget(agent_steps: int, ref: Reference) -> bool:
    """Whether runs of ``agent_steps`` can be set beside the reference: they trained for at
    most its budget (in agent steps, the unit of ``rl_zoo_steps``; frames per step are the
    same under one protocol). Fewer steps only handicap the runs; more would flatter them."""
    return agent_steps <= ref.rl_zoo_steps


def benchmark_rows(per_task: Mapping[str, Sequence[float]], refs: Mapping[str, Reference],
                   budgets: Mapping[str, int]) -> List[Dict[str, Any]]:
    """One row per task: seeds, mean +- std, IQM [CI], the budgets, the references, and the
    normalised IQM where the budgets allow the comparison (``budgets``: agent steps of each
    task's runs, the largest if they differ)."""
    arrays = {t: np.asarray(v, float) for t, v in per_task.items() if len(v)}
    estimates = iqm_ci(arrays)
    out = []
    for task in sorted(arrays):
        scores, (iqm, lo, hi) = arrays[task], estimates[task]
        ref = refs.get(task)
        steps = int(budgets[task])
        comparable = ref is not None and within_reference_budget(steps, ref)
        out.append({
            "task": task, "runs": len(scores), "mean": float(scores.mean()),
            "std": float(scores.std()), "iqm": iqm, "ci_low": lo, "ci_high": hi,
            "agent_steps": steps, "rl_zoo_steps": ref.rl_zoo_steps if ref else None,
            "within_budget": comparable,
            "random": ref.random if ref else None, "rl_zoo_a2c": ref.rl_zoo_a2c if ref else None,
            "normalized_iqm": float(ref.normalize(np.array(iqm))) if comparable else None,
        })
    return out
