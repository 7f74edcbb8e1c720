"""The backends behind the seam: the NumPy twin of the network's forward/backward and
optimizer step against torch autograd, the compiled backend against eager, the factory."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from a2c_cli.agent.distributions import DiagGaussian
from a2c_cli.agent.networks import ActorCritic, flatten_parameters
from a2c_cli.agent.numpy_mlp import NumpyActorCritic
from a2c_cli.config import AlgoConfig, Config, EnvConfig, NetworkConfig
from a2c_cli.envs.spaces import EnvSpaces
from a2c_cli.training.backends import make_backend, resolve_backend
from a2c_cli.training.numpy_backend import NumpyBackend
from a2c_cli.training.optim import make_optimizer
from a2c_cli.training.rollout import RolloutBuffer
from a2c_cli.training.torch_backend import TorchBackend
from a2c_cli.validation import numpy_unsupported_reason

from .conftest import assert_same_update

NETWORKS = {
    "default": NetworkConfig(),
    "separate-tanh": NetworkConfig(shared=[], actor=[64, 64], critic=[64, 64],
                                   activation="tanh", layer_norm=False),
    "relu": NetworkConfig(shared=[32], actor=[16], critic=[], activation="relu",
                          layer_norm=False),
    "elu-layernorm": NetworkConfig(shared=[32, 32], actor=[], critic=[16], activation="elu"),
}
T, N, OBS = 6, 4, 8


def spaces(discrete: bool) -> EnvSpaces:
    if discrete:
        return EnvSpaces(OBS, True, 4, None, None)
    return EnvSpaces(OBS, False, 2, -np.ones(2, np.float32), np.ones(2, np.float32))


def backend(discrete: bool, net_cfg: NetworkConfig, kind: str, algo: AlgoConfig,
            floor_between_log_stds: bool = False):
    """A backend of ``kind`` on the same initial weights (``floor_between_log_stds``: a
    log-std floor between the two action dimensions' log stds)."""
    torch.manual_seed(0)
    net = ActorCritic(spaces(discrete), net_cfg)
    with torch.no_grad():  # move the near-zero head init so every gradient is exercised
        for p in net.parameters():
            p.add_(0.1 * torch.randn_like(p))
    if floor_between_log_stds:
        assert isinstance(net.dist, DiagGaussian)
        net.dist.log_std_min = float(net.log_std.detach().mean())
    optimizer = make_optimizer([flatten_parameters(net)], algo)
    if kind == "numpy":
        return NumpyBackend(net, optimizer, algo)
    return TorchBackend(net, optimizer, algo, torch.device("cpu"), compiled=kind == "compiled",
                        num_envs=N)


def rollout(discrete: bool) -> RolloutBuffer:
    rng = np.random.default_rng(1)
    buf = RolloutBuffer(T, N, OBS, () if discrete else (2,), discrete, torch.device("cpu"))
    buf.obs[:] = rng.normal(size=buf.obs.shape)
    buf.actions[:] = rng.integers(0, 4, size=(T, N)) if discrete else \
        rng.normal(size=(T, N, 2))
    buf.rewards[:] = rng.normal(size=(T, N))
    buf.done[:] = rng.random((T, N)) < 0.2
    buf.terminated[:] = buf.done * (rng.random((T, N)) < 0.5)
    buf.final_values[:] = (buf.done - buf.terminated) * rng.normal(size=(T, N))
    return buf


def update_grad(b, discrete: bool, algo: AlgoConfig):
    """One update of backend ``b`` on the test rollout: (statistics, flat gradient)."""
    last_obs = np.random.default_rng(2).normal(size=(N, OBS)).astype("f4")
    stats = b.update(rollout(discrete), last_obs, algo.ent_coef)
    return stats, b.optimizer.param_groups[0]["params"][0].grad.clone()


def assert_twins_agree(torch_result, numpy_result) -> None:
    """The NumPy twin's statistics and gradient equal autograd's."""
    (stats_t, grad_t), (stats_n, grad_n) = torch_result, numpy_result
    for stat, value_t in stats_t._asdict().items():
        assert float(getattr(stats_n, stat)) == pytest.approx(float(value_t), rel=1e-4,
                                                                abs=1e-6), stat
    assert grad_t.abs().max() > 0
    torch.testing.assert_close(grad_n, grad_t, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("discrete", [True, False], ids=["discrete", "continuous"])
@pytest.mark.parametrize("name", list(NETWORKS))
@pytest.mark.parametrize("max_grad_norm", [100.0, 0.05], ids=["unclipped", "clipped"])
def test_gradients_and_statistics_match_autograd(discrete, name, max_grad_norm):
    # lr 0: the step leaves the parameters alone and the clipped gradient stays in .grad.
    algo = AlgoConfig(lr=0.0, ent_coef=0.03, vf_coef=0.7, gae_lambda=0.9,
                      max_grad_norm=max_grad_norm)
    assert_twins_agree(*(update_grad(backend(discrete, NETWORKS[name], kind, algo), discrete,
                                     algo) for kind in ("torch", "numpy")))


def test_log_std_floor_matches_autograd():
    """network.log_std_min: the NumPy twin floors the log std as torch's clamp does, with a
    zero gradient for the dimension below the floor and the usual one above it."""
    algo = AlgoConfig(lr=0.0, ent_coef=0.03, vf_coef=0.7, gae_lambda=0.9, max_grad_norm=100.0)
    results = {}
    for kind in ("torch", "numpy"):
        b = backend(False, NETWORKS["separate-tanh"], kind, algo, floor_between_log_stds=True)
        results[kind] = update_grad(b, False, algo)
    network = b.net
    below = network.log_std < network.log_std_min
    assert below.sum() == 1  # one dimension on each side of the floor
    assert network.g_log_std[below] == 0 and network.g_log_std[~below] != 0
    assert_twins_agree(results["torch"], results["numpy"])


def test_clipped_log_prob_matches_autograd():
    """network.clipped_log_prob: the NumPy twin's log-probabilities beyond the bounds and
    their gradients are autograd's (a third of the rollout's actions lie beyond [-1, 1])."""
    algo = AlgoConfig(lr=0.0, ent_coef=0.03, vf_coef=0.7, gae_lambda=0.9, max_grad_norm=100.0)
    assert 0.2 < (np.abs(rollout(False).actions) > 1).mean() < 0.5
    cfg = NETWORKS["separate-tanh"]
    clipped = replace(cfg, clipped_log_prob=True)
    stats_t, grad_t = update_grad(backend(False, clipped, "torch", algo), False, algo)
    assert_twins_agree((stats_t, grad_t),
                       update_grad(backend(False, clipped, "numpy", algo), False, algo))
    stats_d, grad_d = update_grad(backend(False, cfg, "numpy", algo), False, algo)
    assert float(stats_d.policy_loss) != pytest.approx(float(stats_t.policy_loss), rel=1e-3)
    assert not torch.allclose(grad_d, grad_t, rtol=1e-3, atol=1e-5)


def test_log_std_floor_sets_the_sampling_std():
    """Below the floor the policy samples with std exp(log_std_min), on both samplers."""
    torch.manual_seed(0)
    np.random.seed(0)
    net = ActorCritic(spaces(False), NetworkConfig(log_std_init=-5.0, log_std_min=-1.0))
    with torch.no_grad():
        net.log_std[1] = 0.0  # above the floor: its own std
    flatten_parameters(net)
    obs = np.zeros((20_000, OBS), np.float32)
    with torch.no_grad():
        mean = net(torch.from_numpy(obs[:1]))[0].numpy()
        torch_samples = net.act(torch.from_numpy(obs)).numpy()
    numpy_samples = NumpyActorCritic(net).act(obs)
    for samples in (torch_samples, numpy_samples):
        np.testing.assert_allclose((samples - mean).std(axis=0), [np.exp(-1.0), 1.0],
                                   rtol=0.03)


@pytest.mark.slow  # inductor compiles the whole update: about 25 s of CPU on a cold cache
def test_compiled_update_equals_eager():
    """One compiled update (forward, GAE in torch, loss, backward, clip, Adam) against
    eager on the same batch; a second update, at another entropy bonus, checks that the step
    was taken and that the compiled graph is reused."""
    algo = AlgoConfig(ent_coef=0.01, gae_lambda=0.95, max_grad_norm=0.5)
    buf, net_cfg = rollout(True), NETWORKS["relu"]
    last_obs = np.random.default_rng(2).normal(size=(N, OBS)).astype("f4")
    eager, compiled = (backend(True, net_cfg, kind, algo) for kind in ("torch", "compiled"))
    for ent_coef in (0.01, 0.002):  # a scheduled bonus reaches the compiled loss
        assert_same_update(eager, compiled, eager.update(buf, last_obs, ent_coef),
                           compiled.update(buf, last_obs, ent_coef))
    obs = buf.obs[0]
    samples = {tuple(compiled.sampler.sample(obs)) for _ in range(20)}
    assert len(samples) > 1  # fresh random numbers on every call
    values = compiled.sampler.values(obs[:3])  # a padded shape
    np.testing.assert_allclose(values, eager.sampler.values(obs[:3]), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("discrete", [True, False], ids=["discrete", "continuous"])
def test_forward_shares_memory_with_the_torch_parameters(discrete):
    torch.manual_seed(0)
    net = ActorCritic(spaces(discrete), NETWORKS["default"])
    flat = flatten_parameters(net)
    numpy_net = NumpyActorCritic(net)
    obs = np.random.default_rng(0).normal(size=(5, OBS)).astype(np.float32)
    with torch.no_grad():
        flat.add_(0.05)  # an optimizer step, in place
        net.load_state_dict(net.state_dict())  # as a resume does
        params_t, values_t = net(torch.from_numpy(obs))
    params_n, values_n = numpy_net.forward(obs)
    np.testing.assert_allclose(params_n, params_t.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(values_n, values_t.numpy(), rtol=1e-5, atol=1e-6)


def test_sampled_actions_follow_the_policy():
    torch.manual_seed(0)
    np.random.seed(0)
    net = ActorCritic(spaces(True), NETWORKS["relu"])
    with torch.no_grad():
        net.policy_out.bias.copy_(torch.tensor([2.0, 1.0, 0.0, -1.0]))
    flatten_parameters(net)
    numpy_net = NumpyActorCritic(net)
    obs = np.zeros((20_000, OBS), np.float32)
    counts = np.bincount(numpy_net.act(obs), minlength=4) / len(obs)
    with torch.no_grad():
        probs = torch.softmax(net(torch.from_numpy(obs[:1]))[0], -1)[0].numpy()
    np.testing.assert_allclose(counts, probs, atol=0.01)

    cont = ActorCritic(spaces(False), NetworkConfig(log_std_init=-1.0))
    flatten_parameters(cont)
    actions = NumpyActorCritic(cont).act(obs)
    with torch.no_grad():
        mean = cont(torch.from_numpy(obs[:1]))[0][0].numpy()
    np.testing.assert_allclose(actions.mean(0), mean, atol=0.01)
    np.testing.assert_allclose(actions.std(0), np.exp(-1.0), rtol=0.02)


def test_auto_backend_is_numpy_on_the_cpu_where_the_network_allows_it():
    cpu = torch.device("cpu")
    cfg = Config(env=EnvConfig(id="CartPole-v1"))
    assert numpy_unsupported_reason(NetworkConfig()) is None
    assert resolve_backend("auto", cfg, cpu)[0] == "numpy"
    for net in (NetworkConfig(activation="gelu"), NetworkConfig(dropout=0.1)):
        assert numpy_unsupported_reason(net) is not None
        name, why = resolve_backend("auto", Config(env=cfg.env, network=net), cpu)
        assert name == "torch" and why == f"the NumPy backend {numpy_unsupported_reason(net)}"
    assert resolve_backend("auto", cfg, torch.device("cuda"))[0] == "graph"
    assert resolve_backend("compiled", cfg, cpu)[0] == "compiled"
    # The spaces count too: MultiDiscrete actions, Dict rows holding images.
    multi = EnvSpaces(OBS, True, 5, None, None, action_nvec=(2, 3))
    name, why = resolve_backend("auto", cfg, cpu, spaces=multi)
    assert name == "torch" and "multi_discrete" in why
    net = ActorCritic(spaces(True), NetworkConfig())
    optimizer = make_optimizer([flatten_parameters(net)], cfg.algo)
    name, _ = resolve_backend(cfg.backend, cfg, cpu)
    assert isinstance(make_backend(name, cfg, net, optimizer, cpu), NumpyBackend)
    cfg.backend = "torch"
    name, _ = resolve_backend(cfg.backend, cfg, cpu)
    assert isinstance(make_backend(name, cfg, net, optimizer, cpu), TorchBackend)


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop"])
def test_numpy_optimizer_step_matches_torch(optimizer):
    from a2c_cli.training.optim import numpy_step
    from a2c_cli.training.optim import numpy_step_supports as step_supports

    algo = AlgoConfig(optimizer=optimizer, lr=1e-2)
    rng = np.random.default_rng(0)
    init = rng.normal(size=300).astype(np.float32)
    params, opts = [], []
    for _ in range(2):
        p = torch.nn.Parameter(torch.from_numpy(init.copy()))
        p.grad = torch.zeros_like(p)
        params.append(p)
        opts.append(make_optimizer([p], algo))
    assert step_supports(opts[1])
    for step in range(6):
        grad = torch.from_numpy(rng.normal(size=300).astype(np.float32))
        for p in params:
            p.grad.copy_(grad)
        for group in (*opts[0].param_groups, *opts[1].param_groups):
            group["lr"] = 1e-2 / (step + 1)  # as the linear schedule changes it
        opts[0].step()
        numpy_step(opts[1])
        torch.testing.assert_close(params[1].detach(), params[0].detach(), rtol=1e-5,
                                   atol=1e-6)
    state_t, state_n = opts[0].state_dict()["state"][0], opts[1].state_dict()["state"][0]
    assert state_t.keys() == state_n.keys()
    for key in state_t:
        torch.testing.assert_close(state_n[key], state_t[key], rtol=1e-5, atol=1e-7)
    opts[0].load_state_dict(opts[1].state_dict())  # checkpoints stay interchangeable


def test_limit_threads_caps_numpy_blas_and_torch():
    """Side-by-side runs each spun a BLAS thread per core (docs: Speed)."""
    from threadpoolctl import threadpool_info

    from a2c_cli.training.runtime import limit_threads

    np.ones((64, 64)) @ np.ones((64, 64))  # BLAS loaded
    before = torch.get_num_threads()
    try:
        limit_threads(1)
        blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
        assert blas and all(pool["num_threads"] == 1 for pool in blas)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
