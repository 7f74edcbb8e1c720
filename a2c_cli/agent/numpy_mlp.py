"""The actor-critic's forward and backward pass in NumPy (the ``numpy`` backend).

Why: A2C's batches are small (``n_steps * num_envs`` rows) and its layers narrow. For such
shapes PyTorch's per-op dispatch and autograd bookkeeping cost more than the arithmetic,
and ``torch.compile`` does not remove that per-call cost; NumPy's per-op cost is several
times lower (``make bench`` measures both). So this module is a second, hand-derived
gradient of the same network: it works on NumPy views that share memory with the torch
parameters and their ``.grad`` (see :func:`a2c_cli.agent.networks.flatten_parameters`),
so checkpoints, the LR schedule and resume are those of the torch network. Tests check
every gradient against autograd.

Covers the MLPs a2c-cli builds (Linear, LayerNorm, :data:`NUMPY_ACTIVATIONS`) without
dropout; anything else uses a torch backend.
"""

from __future__ import annotations

from typing import List, Optional, Protocol, Tuple

import numpy as np
from torch import nn

from a2c_cli.agent.distributions import DiagGaussian
from a2c_cli.agent.networks import ActorCritic
from a2c_cli.config import NUMPY_ACTIVATIONS  # noqa: F401 - what _Activation covers

_HALF_LOG_2PI = 0.5 * np.log(2 * np.pi)


class _Layer(Protocol):
    def forward(self, x: np.ndarray) -> np.ndarray: ...

    def backward(self, dy: np.ndarray) -> np.ndarray: ...


class _Linear:
    """y = x W^T + b; backward writes dW, db into the parameter's gradient views."""

    def __init__(self, m: nn.Linear) -> None:
        self.w, self.b = m.weight.detach().numpy(), m.bias.detach().numpy()
        assert m.weight.grad is not None and m.bias.grad is not None
        self.gw, self.gb = m.weight.grad.numpy(), m.bias.grad.numpy()
        self.x: Optional[np.ndarray] = None
        #: False for a layer that reads the observations: nothing needs d(loss)/d(input).
        self.input_grad = True

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return x @ self.w.T + self.b

    def backward(self, dy: np.ndarray) -> np.ndarray:
        np.matmul(dy.T, self.x, out=self.gw)
        np.add.reduce(dy, axis=0, out=self.gb)
        return dy @ self.w if self.input_grad else dy


def _row_sum(x: np.ndarray) -> np.ndarray:
    return np.add.reduce(x, axis=1, keepdims=True)


class _LayerNorm:
    def __init__(self, m: nn.LayerNorm) -> None:
        assert m.weight is not None and m.bias is not None
        self.g, self.beta = m.weight.detach().numpy(), m.bias.detach().numpy()
        assert m.weight.grad is not None and m.bias.grad is not None
        self.gg, self.gbeta = m.weight.grad.numpy(), m.bias.grad.numpy()
        self.eps = m.eps

    # Row means as sums times 1/n: ndarray.mean's Python wrapper costs more than the sum.
    def forward(self, x: np.ndarray) -> np.ndarray:
        self.inv_n = 1.0 / x.shape[1]
        centred = x - _row_sum(x) * self.inv_n
        self.rstd = 1.0 / np.sqrt(_row_sum(centred * centred) * self.inv_n + self.eps)
        self.xhat = centred * self.rstd
        return self.xhat * self.g + self.beta

    def backward(self, dy: np.ndarray) -> np.ndarray:
        np.add.reduce(dy * self.xhat, axis=0, out=self.gg)
        np.add.reduce(dy, axis=0, out=self.gbeta)
        d = dy * self.g
        return self.rstd * (d - (_row_sum(d) + self.xhat * _row_sum(d * self.xhat))
                            * self.inv_n)


class _Activation:
    def __init__(self, name: str) -> None:
        self.name = name

    def forward(self, x: np.ndarray) -> np.ndarray:
        if self.name == "tanh":
            self.y = np.tanh(x)
        elif self.name == "relu":
            self.mask = x > 0
            self.y = x * self.mask
        elif self.name == "silu":
            self.x, self.s = x, 0.5 * (1.0 + np.tanh(0.5 * x))  # sigmoid, no overflow
            self.y = x * self.s
        else:  # elu, alpha 1
            self.mask = x > 0
            self.y = np.where(self.mask, x, np.expm1(np.minimum(x, 0.0)))
        return self.y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self.name == "tanh":
            return dy * (1.0 - self.y * self.y)
        if self.name == "relu":
            return dy * self.mask
        if self.name == "silu":
            return dy * (self.s * (1.0 + self.x * (1.0 - self.s)))
        return dy * np.where(self.mask, 1.0, self.y + 1.0)


def _layers(seq: nn.Sequential) -> List[_Layer]:
    layers: List[_Layer] = []
    for m in seq:
        if isinstance(m, nn.Linear):
            layers.append(_Linear(m))
        elif isinstance(m, nn.LayerNorm):
            layers.append(_LayerNorm(m))
        else:
            layers.append(_Activation(type(m).__name__.lower()))
    return layers


def _forward(layers: List[_Layer], x: np.ndarray) -> np.ndarray:
    for layer in layers:
        x = layer.forward(x)
    return x


def _backward(layers: List[_Layer], dy: np.ndarray) -> np.ndarray:
    for layer in reversed(layers):
        dy = layer.backward(dy)
    return dy


class NumpyActorCritic:
    """The same function as an :class:`ActorCritic` whose parameters were flattened, on
    NumPy views of its parameters and gradients (no copies: an optimizer step on the
    torch side is seen here at once)."""

    def __init__(self, network: ActorCritic) -> None:
        self.discrete = network.discrete
        self.trunk = _layers(network.trunk)
        self.actor = _layers(network.actor_body) + [_Linear(network.policy_out)]
        self.critic = _layers(network.critic_body) + [_Linear(network.value_out)]
        for path in ([self.trunk] if self.trunk else [self.actor, self.critic]):
            first = path[0]
            assert isinstance(first, _Linear)
            first.input_grad = False
        self.log_std: Optional[np.ndarray] = None
        self.log_std_min: Optional[float] = None
        #: network.clipped_log_prob's (low, high), float64.
        self.bounds: Optional[Tuple[np.ndarray, np.ndarray]] = None
        if not self.discrete:
            assert network.log_std.grad is not None
            self.log_std = network.log_std.detach().numpy()
            self.g_log_std = network.log_std.grad.numpy()
            assert isinstance(network.dist, DiagGaussian)
            self.log_std_min = network.dist.log_std_min
            if network.dist.bounds is not None:
                low, high = network.dist.bounds
                self.bounds = (low.numpy().astype(np.float64), high.numpy().astype(np.float64))

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Sampled actions (unclipped), drawing from NumPy's global RNG: Gumbel-max for
        discrete actions, mean + std * N(0, 1) for continuous ones."""
        params = _forward(self.actor, _forward(self.trunk, obs))
        if self.discrete:
            return np.argmax(params - np.log(np.random.standard_exponential(params.shape)),
                             axis=1)
        noise = np.random.standard_normal(params.shape).astype(np.float32)
        return params + np.exp(self._effective_log_std()) * noise

    def _effective_log_std(self) -> np.ndarray:
        """The log std the policy uses: floored at ``log_std_min`` when there is one."""
        assert self.log_std is not None
        if self.log_std_min is None:
            return self.log_std
        return np.maximum(self.log_std, np.float32(self.log_std_min))

    def forward(self, obs: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Distribution parameters and values, caching what :meth:`backward` needs."""
        h = _forward(self.trunk, obs)
        return _forward(self.actor, h), _forward(self.critic, h)[:, 0]

    def backward(self, d_params: np.ndarray, d_values: np.ndarray) -> None:
        """Write the gradients of the loss into the torch parameters' ``.grad``, given its
        gradients with respect to the outputs of the last :meth:`forward`."""
        d_actor = _backward(self.actor, d_params)
        d_critic = _backward(self.critic, d_values[:, None])
        if self.trunk:
            _backward(self.trunk, d_actor + d_critic)

    def log_prob_entropy_grads(self, params: np.ndarray, actions: np.ndarray,
                               weights: np.ndarray, ent_weight: float
                               ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Log-probabilities and entropies of ``actions``, and the gradient with respect to
        ``params`` of ``-sum(weights * log_prob) - ent_weight * sum(entropy)`` (for the
        Gaussian, the log-std gradient is written to its ``.grad`` here)."""
        rows = np.arange(len(actions))
        if self.discrete:
            z = params - params.max(axis=1, keepdims=True)
            log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
            p = np.exp(log_p)
            entropy = -(p * log_p).sum(axis=1)
            grad = p * (weights[:, None] + ent_weight * (log_p + entropy[:, None]))
            grad[rows, actions] -= weights
            return log_p[rows, actions], entropy, grad
        log_std = self._effective_log_std()
        inv_std = np.exp(-log_std)
        entropy = np.full(len(actions), (0.5 + _HALF_LOG_2PI + log_std).sum(), np.float32)
        if self.bounds is not None:
            log_prob, d_mean, d_log_std = self._clipped_log_prob_grads(params, log_std, actions)
            grad = -weights[:, None] * d_mean
            self.g_log_std[:] = -(weights[:, None] * d_log_std).sum(axis=0) \
                - ent_weight * len(actions)
        else:
            z = (actions - params) * inv_std
            log_prob = (-0.5 * z * z - log_std - _HALF_LOG_2PI).sum(axis=1)
            grad = -weights[:, None] * z * inv_std
            self.g_log_std[:] = -(weights[:, None] * (z * z - 1.0)).sum(axis=0) \
                - ent_weight * len(actions)
        if self.log_std_min is not None:  # clamp's gradient, as torch's: 0 below the floor
            self.g_log_std[self.log_std < self.log_std_min] = 0.0
        return log_prob, entropy, grad

    def _clipped_log_prob_grads(self, mean: np.ndarray, log_std: np.ndarray,
                                actions: np.ndarray
                                ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:func:`~a2c_cli.agent.distributions.gaussian_log_prob` with bounds: log-probs
        (batch,) and their derivatives by mean and log std (batch, d). Beyond a bound at t
        stds (t = (mean - high) / std, or (low - mean) / std), log Phi(t) has derivatives
        +-r / std and -r t, with r = phi(t) / Phi(t); float64, as r comes from a difference
        of logs."""
        import torch

        assert self.bounds is not None
        low, high = self.bounds
        mean64, actions64 = mean.astype(np.float64), actions.astype(np.float64)
        log_std64 = log_std.astype(np.float64)
        inv_std = np.exp(-log_std64)
        z = (actions64 - mean64) * inv_std
        log_prob = -0.5 * z * z - log_std64 - _HALF_LOG_2PI
        d_mean, d_log_std = z * inv_std, z * z - 1.0
        below, above = actions64 <= low, actions64 >= high
        beyond = below | above
        if beyond.any():
            t = np.where(below, (low - mean64) * inv_std, (mean64 - high) * inv_std)
            log_cdf = torch.special.log_ndtr(torch.from_numpy(t)).numpy()
            ratio = np.exp(-0.5 * t * t - _HALF_LOG_2PI - log_cdf)
            log_prob = np.where(beyond, log_cdf, log_prob)
            d_mean = np.where(beyond, np.where(below, -ratio, ratio) * inv_std, d_mean)
            d_log_std = np.where(beyond, -ratio * t, d_log_std)
        return (log_prob.sum(axis=1).astype(np.float32), d_mean.astype(np.float32),
                d_log_std.astype(np.float32))
