"""algo.ema_decay: the moving average of the weights that evaluation and checkpoints use,
on the torch network and its NumPy twin, in checkpoints, a2c-eval and resume=."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from a2c_cli.agent.networks import ActorCritic, flatten_parameters
from a2c_cli.agent.numpy_mlp import NumpyActorCritic
from a2c_cli.config import NetworkConfig
from a2c_cli.envs.spaces import EnvSpaces
from a2c_cli.training.checkpoint import load_checkpoint
from a2c_cli.training.weight_average import ONLINE_KEY, UPDATES_KEY, WeightAverage

from .conftest import A2C_EVAL, a2c_train, run_cli

#: Its module fixture runs once: the whole file on one pytest-xdist worker.
pytestmark = pytest.mark.xdist_group("test_weight_average")

SPACES = EnvSpaces(5, False, 2, -np.ones(2, np.float32), np.ones(2, np.float32))


def network(seed: int = 0) -> tuple[ActorCritic, torch.nn.Parameter]:
    torch.manual_seed(seed)
    net = ActorCritic(SPACES, NetworkConfig())
    return net, flatten_parameters(net)


def train_steps(flat: torch.Tensor, average: WeightAverage, updates: int) -> torch.Tensor:
    """Random 'optimizer steps', each folded into ``average``; returns the expected
    average from the documented recursion."""
    expected = flat.detach().clone()
    gen = torch.Generator().manual_seed(1)
    for t in range(updates):
        with torch.no_grad():
            flat.add_(0.05 * torch.randn(flat.shape, generator=gen))
        average.update()
        decay = min(average.decay, (1 + t) / (10 + t))
        expected = decay * expected + (1 - decay) * flat.detach()
    return expected


def test_average_follows_the_ramped_recursion_and_applied_swaps_back():
    net, flat = network()
    average = WeightAverage(net, flat, 0.9)
    expected = train_steps(flat, average, 40)
    assert average.updates == 40
    torch.testing.assert_close(average.average, expected)
    online = flat.detach().clone()
    assert not torch.equal(online, average.average)
    obs = torch.randn(7, 5)
    with average.applied():
        assert torch.equal(flat, average.average)
        with torch.no_grad():
            inside = net.act(obs, deterministic=True)
    assert torch.equal(flat, online)
    reference, _ = network(seed=3)
    with torch.no_grad():
        torch.nn.utils.vector_to_parameters(expected, reference.parameters())
        torch.testing.assert_close(inside, reference.act(obs, deterministic=True))


def test_applied_restores_the_online_weights_after_an_error():
    net, flat = network()
    average = WeightAverage(net, flat, 0.99)
    train_steps(flat, average, 5)
    online = flat.detach().clone()
    with pytest.raises(RuntimeError), average.applied():
        raise RuntimeError("evaluation failed")
    assert torch.equal(flat, online)


def test_the_numpy_twin_acts_with_the_average():
    """The NumPy backend reads views of the same memory: no copy to refresh."""
    net, flat = network()
    twin = NumpyActorCritic(net)
    average = WeightAverage(net, flat, 0.95)
    train_steps(flat, average, 30)
    obs = np.random.default_rng(0).standard_normal((6, 5)).astype(np.float32)
    with average.applied():
        params, values = twin.forward(obs)
        with torch.no_grad():
            torch_params, torch_values = net(torch.from_numpy(obs))
    np.testing.assert_allclose(params, torch_params.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(values.reshape(-1), torch_values.numpy().reshape(-1),
                               rtol=1e-5, atol=1e-6)
    online_params, _ = twin.forward(obs)
    assert not np.allclose(online_params, params)


def test_checkpoint_round_trip_restores_online_weights_average_and_count():
    net, flat = network()
    average = WeightAverage(net, flat, 0.9)
    train_steps(flat, average, 25)
    payload = average.checkpoint_models()
    assert payload[UPDATES_KEY] == 25
    deployed, _ = network(seed=5)
    deployed.load_state_dict(payload["model"])
    torch.testing.assert_close(torch.nn.utils.parameters_to_vector(deployed.parameters()),
                               average.average)

    net2, flat2 = network(seed=7)
    restored = WeightAverage(net2, flat2, 0.9)
    restored.restore(payload)
    assert torch.equal(flat2, flat) and torch.equal(restored.average, average.average)
    assert restored.updates == 25


def test_off_by_default_changes_nothing():
    net, flat = network()
    average = WeightAverage(net, flat, 0.0)
    before = flat.detach().clone()
    average.update()
    with average.applied():
        assert torch.equal(flat, before)
    assert set(average.checkpoint_models()) == {"model"}


def evaluate_weights(payload: dict, model: dict, episodes: int) -> np.ndarray:
    """The returns of ``model`` on the run's evaluation episodes."""
    from a2c_cli.cli.evaluate import load_agent
    from a2c_cli.envs.factory import make_vector_env
    from a2c_cli.training.evaluation import evaluate
    from a2c_cli.training.seeds import eval_env_seed

    agent, cfg = load_agent(payload | {"model": model}, "cpu")
    envs = make_vector_env(cfg.env, cfg.eval.num_envs, "sync")
    try:
        return evaluate(agent, envs, episodes, eval_env_seed(cfg.seed)).returns
    finally:
        envs.close()


RUN = ["env=cartpole", "algo.ema_decay=0.99", "eval.every_steps=5000", "eval.episodes=3",
       "eval.final_episodes=20", "checkpoint.every_steps=5000", "progress=none", "seed=0",
       "plot=false"]


@pytest.fixture(scope="module")
def ema_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("ema") / "run"
    a2c_train([*RUN, "total_timesteps=20000", f"hydra.run.dir={run_dir}"],
              dict(os.environ, NO_COLOR="1"))
    return run_dir


def test_a_run_evaluates_and_saves_the_average(ema_run):
    final = load_checkpoint(ema_run / "checkpoints" / "final.pt")
    batch = final["config"]["num_envs"] * final["config"]["algo"]["n_steps"]
    assert final[UPDATES_KEY] == 20000 // batch
    differs = [not torch.equal(final["model"][k], final[ONLINE_KEY][k]) for k in final["model"]]
    assert any(differs)
    assert {"model", ONLINE_KEY, UPDATES_KEY} <= set(
        load_checkpoint(ema_run / "checkpoints" / "best.pt"))
    # a2c-eval loads `model` and reproduces the final evaluation: training evaluated the
    # average, and the average is what the checkpoint delivers.
    metrics = json.loads((ema_run / "metrics.json").read_text())
    run_cli(A2C_EVAL, [str(ema_run), "episodes=20"], dict(os.environ, NO_COLOR="1"))
    report = json.loads((ema_run / "checkpoints" / "eval.json").read_text())
    assert report["returns"] == metrics["final_eval_returns"]
    # ... and it is not what the online weights would have scored on those episodes.
    online = evaluate_weights(final, final[ONLINE_KEY], episodes=20)
    assert online.tolist() != metrics["final_eval_returns"]


def test_resume_continues_the_average(tmp_path, subprocess_env):
    run_dir = tmp_path / "run"
    a2c_train([*RUN, "total_timesteps=10000", f"hydra.run.dir={run_dir}"], subprocess_env)
    first = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    a2c_train([f"resume={run_dir}", "total_timesteps=20000"], subprocess_env)
    last = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    batch = last["config"]["num_envs"] * last["config"]["algo"]["n_steps"]
    assert first[UPDATES_KEY] == 10000 // batch and last[UPDATES_KEY] == 20000 // batch
