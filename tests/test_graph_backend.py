"""The graph backend, through the CPU stand-in for CUDA graphs on every machine and through
real CUDA graphs where there is a GPU: each test runs for every graph kind available."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from scipy import stats as st

from a2c_cli.agent.networks import ActorCritic, flatten_parameters
from a2c_cli.cli.console import RunConsole
from a2c_cli.config import AlgoConfig, Config, EnvConfig, NetworkConfig
from a2c_cli.envs.spaces import EnvSpaces
from a2c_cli.errors import ConfigError, GraphContractError, NonFiniteError, TrainingDiverged
from a2c_cli.training.backends import resolve_backend
from a2c_cli.training.build import build_trainer
from a2c_cli.training.cuda_graphs import CudaGraphs, StandInGraphs
from a2c_cli.training.graph_backend import GraphBackend
from a2c_cli.training.optim import make_optimizer, portable_state_dict, set_learning_rate
from a2c_cli.training.rollout import RolloutBuffer
from a2c_cli.training.torch_backend import TorchBackend

from .conftest import QUICK, compose_config, to_config, train_in_process

T, N, OBS, ACTIONS = 5, 8, 8, 4
#: The graph kinds here: the stand-in everywhere, real CUDA graphs with a GPU.
KINDS = ["stand-in"] + (["cuda"] if torch.cuda.is_available() else [])


def device_of(kind: str) -> torch.device:
    return torch.device("cuda" if kind == "cuda" else "cpu")


def capturer(kind: str):
    return CudaGraphs() if kind == "cuda" else StandInGraphs()


def spaces(discrete: bool) -> EnvSpaces:
    if discrete:
        return EnvSpaces(OBS, True, ACTIONS, None, None)
    return EnvSpaces(OBS, False, 2, -np.ones(2, np.float32), np.ones(2, np.float32))


#: A small network for the compiled cases: compilation time grows with the graph.
SMALL = NetworkConfig(shared=[32], actor=[16], critic=[], activation="relu", layer_norm=False)


def make(kind: str, discrete: bool, algo: AlgoConfig, compiled: bool = False,
         network: NetworkConfig | None = None, space: EnvSpaces | None = None):
    """The eager backend (``kind='torch'``, on the CPU) or the graph backend of ``kind``,
    with the same perturbed initial weights (``space``: other than :func:`spaces`)."""
    device = torch.device("cpu") if kind == "torch" else device_of(kind)
    torch.manual_seed(0)
    net = ActorCritic(space or spaces(discrete), network or NetworkConfig()).to(device)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1 * torch.randn_like(p))
    optimizer = make_optimizer([flatten_parameters(net)], algo)
    if kind == "torch":
        return TorchBackend(net, optimizer, algo, device)
    return GraphBackend(net, optimizer, algo, device, capturer(kind), compiled=compiled)


def new_buffer(discrete: bool, device: torch.device) -> RolloutBuffer:
    return RolloutBuffer(T, N, OBS, () if discrete else (2,), discrete, device)


def refill(buf: RolloutBuffer, discrete: bool, seed: int) -> RolloutBuffer:
    """A new batch written into ``buf`` in place (as the collector does)."""
    rng = np.random.default_rng(seed)
    buf.obs[:] = rng.normal(size=buf.obs.shape)
    buf.actions[:] = rng.integers(0, ACTIONS, (T, N)) if discrete else rng.normal(size=(T, N, 2))
    fill_transitions(buf, rng)
    buf.upload()
    return buf


def fill_transitions(buf: RolloutBuffer, rng: np.random.Generator) -> None:
    """Rewards, episode ends and truncation values of a random batch."""
    buf.rewards[:] = rng.normal(size=(T, N))
    buf.done[:] = rng.random((T, N)) < 0.2
    buf.terminated[:] = buf.done * (rng.random((T, N)) < 0.5)
    buf.final_values[:] = (buf.done - buf.terminated) * rng.normal(size=(T, N))


def last_obs(seed: int) -> np.ndarray:
    return np.random.default_rng(100 + seed).normal(size=(N, OBS)).astype(np.float32)


def to_cpu(backend) -> torch.Tensor:
    return backend.params[0].detach().cpu()


CASES = [(k, o, d, False) for k in KINDS for o in ("adam", "rmsprop") for d in (True, False)]
CASES += [(k, "adam", True, True) for k in KINDS]  # torch.compile inside the graphs


@pytest.mark.parametrize(("kind", "optimizer", "discrete", "compiled"), CASES,
                         ids=lambda v: {True: "T", False: "F"}.get(v, str(v)))
def test_graph_update_equals_eager_over_updates_on_one_refilled_buffer(kind, optimizer,
                                                                      discrete, compiled):
    """Four updates at changing learning rates and entropy bonuses, each on a new batch
    refilled into the run's one buffer: the same statistics and weights as the eager
    backend (1e-5), one capture, and the optimizer's lazily made state not shifting the
    step count."""
    algo = AlgoConfig(optimizer=optimizer, ent_coef=0.01, gae_lambda=0.95, max_grad_norm=0.5)
    network = SMALL if compiled else None
    eager = make("torch", discrete, algo, network=network)
    graph = make(kind, discrete, algo, compiled, network)
    host_buf, graph_buf = new_buffer(discrete, torch.device("cpu")), \
        new_buffer(discrete, device_of(kind))
    for i, (lr, ent_coef) in enumerate(((1e-3, 0.01), (5e-4, 0.004), (2e-4, 0.0),
                                        (1e-4, 0.02))):
        refill(host_buf, discrete, seed=i), refill(graph_buf, discrete, seed=i)
        for b in (eager, graph):
            set_learning_rate(b.optimizer, lr)
        ref = eager.update(host_buf, last_obs(i), ent_coef)
        got = graph.update(graph_buf, last_obs(i), ent_coef)
        for name, value in ref._asdict().items():
            assert float(getattr(got, name)) == pytest.approx(float(value), rel=1e-5,
                                                              abs=1e-5), (i, name)
        torch.testing.assert_close(to_cpu(graph), to_cpu(eager), rtol=1e-5, atol=1e-5)
    assert graph.captures == 1
    if kind == "stand-in":
        assert graph._graph.replays == 4


#: Action spaces beyond Discrete and Box, and a masked Discrete (the mask as the
#: observation's last ACTIONS columns).
SPACE_CASES = {
    "multi_discrete": EnvSpaces(OBS, True, 5, None, None, action_nvec=(2, 3)),
    "multi_binary": EnvSpaces(OBS, True, 3, None, None, action_bits=True),
    "action_mask": EnvSpaces(OBS + ACTIONS, True, ACTIONS, None, None,
                             action_mask_dim=ACTIONS),
}


def refill_for(buf: RolloutBuffer, space: EnvSpaces, seed: int) -> RolloutBuffer:
    """A batch for ``space`` written into ``buf`` in place, as :func:`refill`."""
    rng = np.random.default_rng(seed)
    buf.obs[:] = rng.normal(size=buf.obs.shape)
    fill_transitions(buf, rng)
    if space.action_nvec:
        buf.actions[:] = np.stack([rng.integers(0, n, (T, N)) for n in space.action_nvec], -1)
    elif space.action_bits:
        buf.actions[:] = rng.integers(0, 2, (T, N, space.action_dim))
    else:  # masked: random legal sets (at least one action each), actions drawn from them
        mask = rng.random((T, N, ACTIONS)) < 0.6
        legal = rng.integers(0, ACTIONS, (T, N))
        mask[np.arange(T)[:, None], np.arange(N), legal] = True
        buf.obs[..., OBS:] = mask
        buf.actions[:] = legal
    buf.upload()
    return buf


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", list(SPACE_CASES))
def test_graph_update_equals_eager_over_multi_actions_and_masks(kind, case):
    """Three updates on one refilled buffer, as the Discrete/Box test above, for MultiDiscrete
    and MultiBinary actions and masked logits."""
    space, algo = SPACE_CASES[case], AlgoConfig(ent_coef=0.01, gae_lambda=0.95)
    eager, graph = (make(which, True, algo, space=space) for which in ("torch", kind))
    shape = space.action_shape
    bufs = [RolloutBuffer(T, N, space.obs_dim, shape, True, torch.device("cpu")),
            RolloutBuffer(T, N, space.obs_dim, shape, True, device_of(kind))]
    for i in range(3):
        for buf in bufs:
            refill_for(buf, space, seed=i)
        obs = np.concatenate([last_obs(i), np.ones((N, space.action_mask_dim), np.float32)], 1)
        ref, got = eager.update(bufs[0], obs, 0.01), graph.update(bufs[1], obs, 0.01)
        for name, value in ref._asdict().items():
            assert float(getattr(got, name)) == pytest.approx(float(value), rel=1e-5,
                                                              abs=1e-5), (i, name)
        assert np.isfinite(float(ref.entropy)) and float(ref.policy_loss) < 1e3
        torch.testing.assert_close(to_cpu(graph), to_cpu(eager), rtol=1e-5, atol=1e-5)
    assert graph.captures == 1


@pytest.mark.parametrize("kind", KINDS)
def test_the_graphs_refuse_a_buffer_other_than_the_one_captured(kind):
    algo = AlgoConfig()
    graph = make(kind, True, algo)
    buf = refill(new_buffer(True, device_of(kind)), True, 0)
    graph.update(buf, last_obs(0), algo.ent_coef)
    other = refill(new_buffer(True, device_of(kind)), True, 1)
    with pytest.raises(GraphContractError, match="update graph was captured on another"):
        graph.update(other, last_obs(1), algo.ent_coef)
    graph.sampler.begin_step(buf, 0, slice(None))
    with pytest.raises(GraphContractError, match="act graphs was captured on another"):
        graph.sampler.begin_step(other, 0, slice(None))


def replayed_actions(graph: GraphBackend, buf: RolloutBuffer, n: int) -> np.ndarray:
    """``n`` replays of slot (0, all envs) on the buffer's step-0 observations: (n, N, ...)."""
    out = []
    for _ in range(n):
        graph.sampler.begin_step(buf, 0, slice(None))
        out.append(graph.sampler.end_step(buf, 0, slice(None)).copy())
    return np.stack(out)


def policy_of(graph: GraphBackend, obs: np.ndarray):
    """The policy's parameters at one observation: softmax probabilities, or (mean, std)."""
    net = graph.network
    with torch.no_grad():
        params, _ = net(torch.from_numpy(obs[None]).to(graph.device))
        if net.discrete:
            return torch.softmax(params, -1)[0].cpu().numpy().astype(np.float64)
        mean, std = net.dist.mean_std(params)
        return mean[0].cpu().numpy(), std[0].cpu().numpy()


def chi_square_p(actions: np.ndarray, probs: np.ndarray) -> float:
    counts = np.bincount(actions.reshape(-1), minlength=len(probs))
    return st.chisquare(counts, probs / probs.sum() * counts.sum()).pvalue


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("discrete", [True, False], ids=["discrete", "continuous"])
def test_replays_sample_fresh_from_the_policy_with_independent_envs(kind, discrete):
    """3000 replays of one act graph, every env seeing the same observation: the actions
    follow the policy (chi-square against the softmax; Kolmogorov-Smirnov of the
    standardised Gaussian samples), differ between replays, are independent between envs,
    and land in the rollout. One graph per slot: three slots, three captures."""
    graph = make(kind, discrete, AlgoConfig())
    buf = new_buffer(discrete, device_of(kind))
    buf.obs[:] = np.linspace(-1, 1, OBS, dtype=np.float32)
    buf.upload()
    actions = replayed_actions(graph, buf, 3000)
    flat = actions.reshape(len(actions), -1)
    repeats = (flat[1:] == flat[:-1]).all(axis=1).mean()  # not frozen at capture:
    if discrete:  # a replay repeats the last as often as independent draws would
        assert repeats < np.sum(policy_of(graph, buf.obs[0, 0]) ** 2) ** N + 0.01
    else:
        assert repeats == 0
    device_actions = buf.device_actions[0] if buf.on_device else torch.from_numpy(buf.actions[0])
    np.testing.assert_array_equal(device_actions.cpu().numpy(), actions[-1])
    if discrete:
        assert chi_square_p(actions, policy_of(graph, buf.obs[0, 0])) > 1e-3
        table = np.zeros((ACTIONS, ACTIONS))
        np.add.at(table, (actions[:, 0], actions[:, 1]), 1)
        assert st.chi2_contingency(table).pvalue > 1e-3  # env 0 tells nothing of env 1
    else:
        mean, std = policy_of(graph, buf.obs[0, 0])
        z = (actions - mean) / std
        assert st.kstest(z.reshape(-1), "norm").pvalue > 1e-3
        assert abs(np.corrcoef(z[:, 0, 0], z[:, 1, 0])[0, 1]) < 0.08
    graph.sampler.begin_step(buf, 1, slice(0, 4))
    graph.sampler.begin_step(buf, 1, slice(4, 8))
    assert graph.captures == 3


@pytest.mark.parametrize("kind", KINDS)
def test_acting_after_an_update_follows_the_weights_it_wrote_in_place(kind):
    """An act graph captured before an update samples from the updated policy after it:
    one large step that favours action 0 everywhere moves the softmax far, and the replayed
    actions follow the new probabilities, not the old."""
    algo = AlgoConfig(lr=0.05, ent_coef=0.0, normalize_advantage=False, max_grad_norm=100.0)
    graph = make(kind, True, algo)
    buf = new_buffer(True, device_of(kind))
    buf.obs[:] = np.linspace(-1, 1, OBS, dtype=np.float32)
    buf.upload()
    replayed_actions(graph, buf, 1)  # the act graph exists before the update
    old = policy_of(graph, buf.obs[0, 0])
    buf.actions[:] = 0
    buf.rewards[:] = 1.0
    buf.upload()
    graph.update(buf, buf.obs[0], algo.ent_coef)
    new = policy_of(graph, buf.obs[0, 0])
    assert new[0] > old[0] + 0.2
    actions = replayed_actions(graph, buf, 1500)
    assert chi_square_p(actions, new) > 1e-3
    assert chi_square_p(actions, old) < 1e-9


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("optimizer", ["adam", "rmsprop"])
def test_a_non_finite_update_raises_at_once_and_restores_everything_bit_for_bit(kind,
                                                                                optimizer):
    """On the run's own buffer: the failed update raises before it returns, the weights and
    every optimizer state tensor (moments, step count) are exactly those before it, and no
    later update is applied."""
    algo = AlgoConfig(optimizer=optimizer)
    graph = make(kind, True, algo)
    buf = refill(new_buffer(True, device_of(kind)), True, 0)
    graph.update(buf, last_obs(0), algo.ent_coef)
    before = [t.clone() for t in graph._live()]
    refill(buf, True, 1)
    buf.rewards[2, 1] = np.nan
    with pytest.raises(NonFiniteError, match="value_loss|policy_loss"):
        graph.update(buf, last_obs(1), algo.ent_coef)
    after = graph._live()
    assert len(after) == len(before) >= 2
    for was, now in zip(before, after, strict=True):
        assert torch.equal(was, now)
    refill(buf, True, 2)
    with pytest.raises(NonFiniteError):
        graph.update(buf, last_obs(2), algo.ent_coef)
    assert all(torch.equal(w, n) for w, n in zip(before, graph._live(), strict=True))


def test_graph_backend_needs_a_gpu_and_checkpoints_stay_portable():
    cfg = Config(env=EnvConfig(id="CartPole-v1"), backend="graph")
    with pytest.raises(ConfigError, match="backend=graph needs a CUDA GPU"):
        resolve_backend("graph", cfg, torch.device("cpu"))
    assert resolve_backend("auto", cfg, torch.device("cuda"))[0] == "graph"
    assert resolve_backend("auto", cfg, torch.device("cpu"), stand_in=True)[0] == "graph"
    net = ActorCritic(spaces(True), NetworkConfig())
    optimizer = make_optimizer([flatten_parameters(net)], AlgoConfig())
    optimizer.param_groups[0]["lr"] = torch.tensor(3e-4)
    optimizer.param_groups[0]["capturable"] = True
    group = portable_state_dict(optimizer)["param_groups"][0]
    assert group["lr"] == pytest.approx(3e-4) and isinstance(group["lr"], float)
    assert group["capturable"] is False
    assert isinstance(optimizer.param_groups[0]["lr"], torch.Tensor)  # the live one untouched


# --- in-process training runs -----------------------------------------------------------

def graph_run(tmp_path, overrides, kind: str = "stand-in", expect_diverged: bool = False):
    """A run's trainer with the graph backend of ``kind`` (the stand-in on the CPU)."""
    device = "cuda" if kind == "cuda" else "cpu"
    cfg = compose_config(["progress=none", f"device={device}", "backend=graph"
                          if kind == "cuda" else "backend=auto", *overrides])
    config = to_config(cfg)
    trainer = build_trainer(config, tmp_path, OmegaConf.to_container(cfg, resolve=True),
                            RunConsole("none", config.total_timesteps, 60.0),
                            graphs=None if kind == "cuda" else StandInGraphs())
    try:
        if expect_diverged:
            with pytest.raises(TrainingDiverged):
                trainer.train()
            return trainer, json.loads((tmp_path / "metrics.json").read_text())
        return trainer, trainer.train()
    finally:
        trainer.close()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("overrides", [[], ["env.backend=envpool", "vec_env=async"]],
                         ids=["gymnasium", "envpool-async"])
def test_a_training_run_captures_each_graph_once(tmp_path, kind, overrides):
    """One act graph per rollout slot (two per step with EnvPool's pipelined halves) and
    one update graph, for the whole run, replayed every time."""
    if "env.backend=envpool" in overrides:
        pytest.importorskip("envpool")
    trainer, metrics = graph_run(tmp_path, ["env=lunar_discrete", "total_timesteps=2400",
                                            "eval.every_steps=1200", "eval.final_episodes=2",
                                            "num_envs=8", "plot=false", *overrides], kind)
    backend = trainer.learner.backend
    assert isinstance(backend, GraphBackend)
    halves = 2 if overrides else 1
    n_steps, updates = trainer.cfg.algo.n_steps, 2400 // (8 * trainer.cfg.algo.n_steps)
    assert metrics["status"] == "completed" and metrics["total_timesteps"] == updates * 8 * n_steps
    assert backend.captures == n_steps * halves + 1
    if kind == "stand-in":
        assert backend._graph.replays == updates
        assert all(g.replays == updates for g in backend.sampler.captured.values())


@pytest.mark.parametrize("backend", ["torch", "numpy"])
def test_a_graph_checkpoint_resumes_on_the_torch_and_numpy_backends(tmp_path, backend):
    common = ["env=cartpole", "eval.every_steps=1000", "eval.final_episodes=2", "plot=false"]
    graph_run(tmp_path / "run", [*common, "total_timesteps=1000"])
    m = train_in_process([*common, "total_timesteps=2000", f"backend={backend}",
                          f"resume={tmp_path / 'run'}"], tmp_path / "run")
    assert m["status"] == "completed" and m["total_timesteps"] == 2000
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)
    assert ckpt["global_step"] == 2000
    assert all(torch.isfinite(t).all() for t in ckpt["model"].values())


@pytest.mark.parametrize("kind", KINDS)
def test_divergence_is_reported_at_the_same_step_as_the_eager_backend(tmp_path, kind):
    """NaN observations from env step 500 of each env: the failed update is known before
    the step counter, the log, evaluations or checkpoints move on."""
    run = ["env=cartpole", "env.id=tests.fault_envs:NanAfter-v0", "checkpoint.every_steps=1000",
           "eval.every_steps=1000", "eval.final_episodes=2", "plot=false"]
    eager = tmp_path / "eager"
    eager.mkdir()
    with pytest.raises(TrainingDiverged, match="diverged at step 4000"):
        train_in_process([*run, "backend=torch"], eager)
    expected = json.loads((eager / "metrics.json").read_text())
    _, metrics = graph_run(tmp_path / "graph", run, kind, expect_diverged=True)
    for key in ("status", "diverged_at_step", "diverged_quantity", "total_timesteps"):
        assert metrics[key] == expected[key], key
    last = torch.load(tmp_path / "graph" / "checkpoints" / "last.pt", weights_only=True,
                      map_location="cpu")
    assert last["global_step"] == 4000


@pytest.mark.parametrize(("env_id", "extra"), [
    ("tests.fault_envs:MatchComponents-v0", []),
    ("tests.fault_envs:MatchBits-v0", []),
    ("tests.fault_envs:ImageAndVector-v0", []),
    ("tests.fault_envs:LegalMoves-v0", ["env.action_mask_key=legal"]),
], ids=["multi_discrete", "multi_binary", "packed_dict", "action_mask"])
def test_the_graphs_take_multi_actions_and_packed_dicts_and_learn(tmp_path, env_id, extra):
    """MultiDiscrete and MultiBinary actions (their samplers inside the act graphs), packed
    Dict rows (the encoder's views inside both graphs) and action masks (the observation's
    last columns): each graph captured once, and each task, which only a policy reading
    every entry and setting every component solves, is learnt (random play: 4.7 and 8 of
    16; an illegal action of LegalMoves raises)."""
    trainer, metrics = graph_run(tmp_path, [*QUICK, f"env.id={env_id}", *extra,
                                            "network.encoder=none", "total_timesteps=16000",
                                            "eval.every_steps=0", "eval.final_episodes=10",
                                            "plot=false"])
    backend = trainer.learner.backend
    assert isinstance(backend, GraphBackend)
    assert backend.captures == trainer.cfg.algo.n_steps + 1  # one per act slot, one update
    assert metrics["final_eval_mean_return"] >= 14.0, metrics
