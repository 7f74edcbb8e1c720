"""The NumPy forward/backward (CPU fast path) against torch autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from a2c_cli.config import AlgoConfig, NetworkConfig
from a2c_cli.envs import EnvSpaces
from a2c_cli.learner import A2C, STAT_NAMES, make_optimizer
from a2c_cli.networks import ActorCritic, flatten_parameters
from a2c_cli.numpy_mlp import NumpyActorCritic, supports
from a2c_cli.rollout import RolloutBuffer

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


def learner(discrete: bool, net_cfg: NetworkConfig, use_numpy: bool, algo: AlgoConfig) -> A2C:
    torch.manual_seed(0)
    net = ActorCritic(spaces(discrete), net_cfg)
    with torch.no_grad():  # move the near-zero head init so every gradient is exercised
        for p in net.parameters():
            p.add_(0.1 * torch.randn_like(p))
    flat = flatten_parameters(net)
    return A2C(net, make_optimizer(iter([flat]), algo), algo,
               NumpyActorCritic(net) if use_numpy else None)


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


@pytest.mark.parametrize("discrete", [True, False], ids=["discrete", "continuous"])
@pytest.mark.parametrize("name", list(NETWORKS))
@pytest.mark.parametrize("max_grad_norm", [100.0, 0.05], ids=["unclipped", "clipped"])
def test_gradients_and_statistics_match_autograd(discrete, name, max_grad_norm):
    # lr 0: the step leaves the parameters alone and the clipped gradient stays in .grad.
    algo = AlgoConfig(lr=0.0, ent_coef=0.03, vf_coef=0.7, gae_lambda=0.9,
                      max_grad_norm=max_grad_norm)
    buf = rollout(discrete)
    last_obs = torch.from_numpy(np.random.default_rng(2).normal(size=(N, OBS)).astype("f4"))
    results = {}
    for use_numpy in (False, True):
        a2c = learner(discrete, NETWORKS[name], use_numpy, algo)
        stats = a2c.update(buf.to_device(), last_obs)
        results[use_numpy] = (stats, a2c.params[0].grad.clone())
    (stats_t, grad_t), (stats_n, grad_n) = results[False], results[True]
    for i, stat in enumerate(STAT_NAMES):
        assert stats_n[i].item() == pytest.approx(stats_t[i].item(), rel=1e-4, abs=1e-6), stat
    assert grad_t.abs().max() > 0
    torch.testing.assert_close(grad_n, grad_t, rtol=1e-4, atol=1e-6)


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


def test_unsupported_networks_use_torch():
    assert supports(NetworkConfig())
    assert not supports(NetworkConfig(activation="gelu"))
    assert not supports(NetworkConfig(dropout=0.1))


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop"])
def test_numpy_optimizer_step_matches_torch(optimizer):
    from a2c_cli.numpy_optim import numpy_step
    from a2c_cli.numpy_optim import supports as step_supports

    algo = AlgoConfig(optimizer=optimizer, lr=1e-2)
    rng = np.random.default_rng(0)
    init = rng.normal(size=300).astype(np.float32)
    params, opts = [], []
    for _ in range(2):
        p = torch.nn.Parameter(torch.from_numpy(init.copy()))
        p.grad = torch.zeros_like(p)
        params.append(p)
        opts.append(make_optimizer(iter([p]), algo))
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
    """Side-by-side runs each spun a BLAS thread per core (3.8k instead of 20k steps/s)."""
    from threadpoolctl import threadpool_info

    from a2c_cli.threads import limit_threads

    np.ones((64, 64)) @ np.ones((64, 64))  # BLAS loaded
    before = torch.get_num_threads()
    try:
        limit_threads(1)
        blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
        assert blas and all(pool["num_threads"] == 1 for pool in blas)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
