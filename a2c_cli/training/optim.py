"""The optimizer: construction, learning-rate schedule, gradient clipping, and the NumPy
backend's step.

:func:`numpy_step` is torch's Adam / RMSprop arithmetic in NumPy on the torch optimizer's
own parameter and state tensors (NumPy views, no copies), so ``optimizer.state_dict()``,
checkpoints and resume are exactly as with ``optimizer.step()``; only ``torch.optim``'s
per-call overhead goes. Tests compare it with ``optimizer.step()``.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np
import torch
from torch import Tensor, nn

from a2c_cli.config import AlgoConfig
from a2c_cli.training.rmsprop_tf import RMSpropTF


def make_optimizer(params: Iterable[nn.Parameter], algo: AlgoConfig) -> torch.optim.Optimizer:
    """Adam, or RMSprop with the A2C paper's alpha=0.99 (SB3's default for A2C).

    Adam uses the fused kernel (CPU and CUDA): for small networks the per-tensor
    implementation costs more than the forward pass. RMSprop has no fused kernel; the
    multi-tensor (foreach) one is the next best.
    """
    if algo.optimizer == "rmsprop_tf":
        return RMSpropTF(params, lr=algo.lr, alpha=0.99, eps=algo.optimizer_eps,
                         momentum=algo.rmsprop_momentum, centered=algo.rmsprop_centered)
    if algo.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=algo.lr, alpha=0.99, eps=algo.optimizer_eps,
                                   foreach=True)
    return torch.optim.Adam(params, lr=algo.lr, eps=algo.optimizer_eps, fused=True)


def scheduled(value: float, schedule: str, progress: float) -> float:
    """``value`` at ``progress`` in [0, 1] of the run (``linear`` decays it to 0)."""
    if schedule == "linear":
        return value * max(1.0 - progress, 0.0)
    return value


def learning_rate(algo: AlgoConfig, progress: float) -> float:
    return scheduled(algo.lr, algo.lr_schedule, progress)


def entropy_coef(algo: AlgoConfig, progress: float) -> float:
    return scheduled(algo.ent_coef, algo.ent_schedule, progress)


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """A device-tensor learning rate (the CUDA-graph backend's) is filled in place: the
    captured optimizer step reads it from there."""
    for group in optimizer.param_groups:
        if isinstance(group["lr"], Tensor):
            group["lr"].fill_(lr)
        else:
            group["lr"] = lr


def portable_state_dict(optimizer: torch.optim.Optimizer) -> dict:
    """``optimizer.state_dict()`` that loads into any backend and device: a float learning
    rate and ``capturable`` off (the CUDA-graph backend sets both again)."""
    state = optimizer.state_dict()
    for group in state["param_groups"]:
        group["lr"] = float(group["lr"])
        if "capturable" in group:
            group["capturable"] = False
    return state


def optimized_parameters(optimizer: torch.optim.Optimizer) -> list[nn.Parameter]:
    return [p for group in optimizer.param_groups for p in group["params"]]


def clip_grad_norm(params: list[nn.Parameter], max_norm: float) -> Tensor:
    """Scale gradients to a total L2 norm of at most ``max_norm``; returns the norm before
    clipping. ``nn.utils.clip_grad_norm_``'s arithmetic without its per-call overhead."""
    grads = [p.grad for p in params if p.grad is not None]
    norms = [torch.linalg.vector_norm(g) for g in grads]
    total = norms[0] if len(norms) == 1 else torch.linalg.vector_norm(torch.stack(norms))
    coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for g in grads:
        g.mul_(coef)
    return total


def _state(optimizer: torch.optim.Optimizer, p: torch.Tensor, keys: tuple[str, ...]) -> dict:
    """The parameter's state, created as torch creates it on the first step."""
    state = optimizer.state[p]
    if not state:
        state["step"] = torch.tensor(0.0, dtype=torch.float32)
        for key in keys:
            state[key] = torch.zeros_like(p, memory_format=torch.preserve_format)
    return state


def numpy_step(optimizer: torch.optim.Optimizer) -> None:
    """One ``optimizer.step()`` (Adam, or RMSprop / RMSpropTF without momentum/centering) in
    NumPy."""
    adam = isinstance(optimizer, torch.optim.Adam)
    tf_like = isinstance(optimizer, RMSpropTF)
    for group in optimizer.param_groups:
        lr, eps = float(group["lr"]), float(group["eps"])
        for p in group["params"]:
            if p.grad is None:
                continue
            param, grad = p.detach().numpy(), p.grad.numpy()
            state = optimizer.init_state(p) if tf_like else \
                _state(optimizer, p, ("exp_avg", "exp_avg_sq") if adam else ("square_avg",))
            step_count = state["step"].numpy()  # a view: no torch op per update
            step_count += 1
            if adam:
                beta1, beta2 = group["betas"]
                step = float(step_count)
                exp_avg, exp_avg_sq = state["exp_avg"].numpy(), state["exp_avg_sq"].numpy()
                exp_avg += (1 - beta1) * (grad - exp_avg)  # lerp
                exp_avg_sq *= beta2
                exp_avg_sq += (1 - beta2) * grad * grad
                denom = np.sqrt(exp_avg_sq) / math.sqrt(1 - beta2 ** step) + eps
                param -= (lr / (1 - beta1 ** step)) * exp_avg / denom
            else:
                alpha = group["alpha"]
                square_avg = state["square_avg"].numpy()
                square_avg *= alpha
                square_avg += (1 - alpha) * grad * grad
                if tf_like:  # eps inside the square root
                    param -= lr * grad / np.sqrt(square_avg + eps)
                else:
                    param -= lr * grad / (np.sqrt(square_avg) + eps)


def numpy_step_supports(optimizer: torch.optim.Optimizer) -> bool:
    """Adam without weight decay/amsgrad, or RMSprop without momentum/centering."""
    group = optimizer.defaults
    if group.get("weight_decay", 0) or group.get("maximize", False):
        return False
    if isinstance(optimizer, torch.optim.Adam):
        return not group.get("amsgrad", False)
    if isinstance(optimizer, (torch.optim.RMSprop, RMSpropTF)):
        return not group.get("momentum", 0) and not group.get("centered", False)
    return False
