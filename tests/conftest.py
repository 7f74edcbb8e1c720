"""Shared helpers and fixtures: the real composed config (shrunk for quick runs), the
training task in-process, the console scripts in a subprocess, TensorBoard read-back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterable, Optional

import pytest
import torch
from omegaconf import DictConfig, OmegaConf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from a2c_cli.config import Config

# One torch thread, as a2c-train runs (torch_threads=1): the small matrices of these tests
# only pay the cost of a thread pool, and pytest shares the 2 cores with subprocesses.
torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
A2C_TRAIN, A2C_EVAL, A2C_REPORT = (str(BIN / n) for n in ("a2c-train", "a2c-eval", "a2c-report"))


#: The base of the quick learning checks on the tests' own small envs: the CartPole preset's
#: settings with the learning rate their score floors were set with (the preset's own rate
#: is tuned for CartPole and may change with it).
QUICK = ["env=cartpole", "algo.lr=3e-3"]


def compose_config(overrides: Iterable[str] = (), with_hydra: bool = False) -> DictConfig:
    """Compose conf/config.yaml exactly as a2c-train does, with overrides."""
    from a2c_cli.cli.train import compose_config as compose

    return compose(list(overrides), with_hydra)


def to_config(cfg: DictConfig) -> Config:
    return OmegaConf.to_object(cfg)  # type: ignore[return-value]


def train_in_process(overrides: Iterable[str], run_dir: Path) -> Dict[str, Any]:
    """The a2c-train task on the composed config, in this process (no Hydra run, so no
    .hydra/ or train.log): what most end-to-end checks need, without a process's imports."""
    from a2c_cli.cli.task import train

    cfg = compose_config(["progress=none", "plot=false", *overrides])  # the plot: test_eval_cli
    run_dir.mkdir(parents=True, exist_ok=True)
    return train(cfg, run_dir)


#: The shipped CartPole preset's runs, by (backend, seed): test_solve's headline check and
#: test_envpool's same-level check both need the gymnasium seed-0 run (one worker: their
#: tests share the xdist group "shipped_cartpole").
_SHIPPED_CARTPOLE: Dict[tuple, Dict[str, Any]] = {}


def shipped_cartpole(backend: str, seed: int, root: Path) -> Dict[str, Any]:
    """metrics.json of ``env=cartpole env.backend=<backend> seed=<seed>``, trained once per
    worker (in ``root``, a session temporary directory)."""
    key = backend, seed
    if key not in _SHIPPED_CARTPOLE:
        _SHIPPED_CARTPOLE[key] = train_in_process(
            ["env=cartpole", f"env.backend={backend}", f"seed={seed}"],
            root / f"cartpole-{backend}-{seed}")
    return _SHIPPED_CARTPOLE[key]


@pytest.fixture(scope="session")
def shipped_cartpole_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("shipped_cartpole")


def run_cli(script: str, args: list[str], env: Optional[dict] = None, cwd: Path | None = None,
            check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    """A console script in a subprocess: for exit codes, signals, console output, Hydra."""
    proc = subprocess.run([script, *args], env=env or quiet_env(), cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{Path(script).name} failed ({proc.returncode}):\n{proc.stdout}\n"
                             f"{proc.stderr}")
    return proc


def a2c_train(args: list[str], env: Optional[dict] = None, cwd: Path | None = None,
              check: bool = True) -> subprocess.CompletedProcess:
    return run_cli(A2C_TRAIN, args, env, cwd, check)


def quiet_env() -> dict:
    """Environment for subprocesses: no colour, headless, one thread, wide lines."""
    env = dict(os.environ)
    env.update({"NO_COLOR": "1", "SDL_VIDEODRIVER": "dummy", "OMP_NUM_THREADS": "1",
                "COLUMNS": "200"})
    return env


@pytest.fixture
def subprocess_env() -> dict:
    return quiet_env()


def scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar of the run's event files as (step, value) lists."""
    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def session_steps(job: Path) -> list[list[int]]:
    """Per event file (one per session, in order): the steps of charts/episodic_return."""
    files = sorted(job.glob("events.out.tfevents.*"), key=lambda p: p.stat().st_mtime)
    steps = []
    for path in files:
        acc = EventAccumulator(str(path), size_guidance={"scalars": 0})
        acc.Reload()
        tags = acc.Tags()["scalars"]
        steps.append([e.step for e in acc.Scalars("charts/episodic_return")]
                     if "charts/episodic_return" in tags else [])
    return steps


def make_collector(envs, n_steps: int, network, seed: int, backend: str = "torch",
                   normalize_obs: bool = False):
    """(collector, buffer, agent) for ``envs`` with a fresh network, as a run wires them."""
    from a2c_cli.agent.agent import Agent
    from a2c_cli.agent.networks import ActorCritic, flatten_parameters
    from a2c_cli.agent.normalization import ObsNormalizer, RewardScaler
    from a2c_cli.config import AlgoConfig
    from a2c_cli.envs.spaces import describe_spaces
    from a2c_cli.training.collector import Collector
    from a2c_cli.training.numpy_backend import NumpyBackend
    from a2c_cli.training.optim import make_optimizer
    from a2c_cli.training.rollout import RolloutBuffer

    spaces = describe_spaces(envs.single_observation_space, envs.single_action_space)
    net = ActorCritic(spaces, network)
    sampler = None
    if backend == "numpy":
        optimizer = make_optimizer([flatten_parameters(net)], AlgoConfig())
        sampler = NumpyBackend(net, optimizer, AlgoConfig()).sampler
    cpu = torch.device("cpu")
    agent = Agent(net, ObsNormalizer(spaces.obs_dim, normalize_obs), spaces, cpu, sampler)
    buf = RolloutBuffer(n_steps, envs.num_envs, spaces.obs_dim,
                        () if spaces.discrete else (spaces.action_dim,), spaces.discrete, cpu)
    collector = Collector(envs, agent, buf, RewardScaler(envs.num_envs, 0.99, False), seed)
    return collector, buf, agent


def job_dirs(sweep: Path) -> list[Path]:
    """A multirun's job directories (``<num>_<overrides>``), in job order."""
    jobs = [p for p in sweep.iterdir() if p.is_dir() and p.name.split("_", 1)[0].isdigit()]
    return sorted(jobs, key=lambda p: int(p.name.split("_", 1)[0]))


def job_dir(sweep: Path, num: str | int) -> Path:
    """Job ``num``'s directory of a multirun."""
    return job_dirs(sweep)[int(num)]


def assert_same_update(reference, other, stats_ref, stats_other, tol: float = 1e-5) -> None:
    """Two backends' update statistics and weights agree within ``tol``."""
    for name, value in stats_ref._asdict().items():
        assert float(getattr(stats_other, name)) == pytest.approx(float(value), rel=tol,
                                                                  abs=tol), name
    torch.testing.assert_close(other.params[0].detach(), reference.params[0].detach(),
                               rtol=tol, atol=tol)


def pytest_configure(config: pytest.Config) -> None:
    """make test runs ``--dist loadgroup``: an ``xdist_group`` (a file with a module
    fixture) runs on one worker, its fixture once. pytest 9.2 ignores the node ids that
    pytest-xdist 3.8 rewrites to do that, so the groups silently spread over the workers and
    each re-runs the fixtures (pytest-dev/pytest-xdist#1386): refuse that pair."""
    from importlib.metadata import version

    def release(name: str) -> tuple[int, ...]:
        return tuple(int(p) for p in version(name).split(".")[:2] if p.isdigit())

    if config.getoption("dist", "no") == "loadgroup" and release("pytest") >= (9, 2) and \
            release("pytest-xdist") <= (3, 8):
        raise pytest.UsageError(
            f"--dist loadgroup does not group tests with pytest {version('pytest')} and "
            f"pytest-xdist {version('pytest-xdist')} (pytest-dev/pytest-xdist#1386): install "
            "the dev extra's pytest (make install).")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The ``xdist_group`` files first: each is one worker's long serial stretch (a module
    fixture and every test that reads it), so started last it would be the suite's tail."""
    items.sort(key=lambda item: item.get_closest_marker("xdist_group") is None)


@pytest.fixture(autouse=True)
def _per_test_timeout():
    """``A2C_TEST_TIMEOUT=SECONDS`` fails a test that runs longer (SIGALRM in the main
    thread; a subprocess it waits for is killed), so one hung test cannot eat a short GPU
    session (benchmarks/gpu_check.sh sets it); unset, nothing is armed."""
    import signal
    import threading

    seconds = int(os.environ.get("A2C_TEST_TIMEOUT", "0") or 0)
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):  # noqa: ANN001, ARG001 - signal handler
        raise TimeoutError(f"test ran over {seconds} s (A2C_TEST_TIMEOUT)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
