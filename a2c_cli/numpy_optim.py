"""The optimizer step of the CPU fast path: torch's Adam / RMSprop arithmetic in NumPy.

Works on the torch optimizer's own parameter and state tensors (NumPy views, no copies),
so ``optimizer.state_dict()``, checkpoints and resume are exactly as with
``optimizer.step()``; only the per-call overhead goes (``torch.optim``'s step wrapper
costs several times the arithmetic for one flattened parameter). Tests compare with
``optimizer.step()``.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def _state(optimizer: torch.optim.Optimizer, p: torch.Tensor, keys: tuple[str, ...]) -> dict:
    """The parameter's state, created as torch creates it on the first step."""
    state = optimizer.state[p]
    if not state:
        state["step"] = torch.tensor(0.0, dtype=torch.float32)
        for key in keys:
            state[key] = torch.zeros_like(p, memory_format=torch.preserve_format)
    return state


def numpy_step(optimizer: torch.optim.Optimizer) -> None:
    """One ``optimizer.step()`` (Adam, or RMSprop without momentum/centering) in NumPy."""
    adam = isinstance(optimizer, torch.optim.Adam)
    for group in optimizer.param_groups:
        lr, eps = float(group["lr"]), float(group["eps"])
        for p in group["params"]:
            if p.grad is None:
                continue
            param, grad = p.detach().numpy(), p.grad.numpy()
            if adam:
                state = _state(optimizer, p, ("exp_avg", "exp_avg_sq"))
                beta1, beta2 = group["betas"]
                state["step"] += 1
                step = float(state["step"])
                exp_avg, exp_avg_sq = state["exp_avg"].numpy(), state["exp_avg_sq"].numpy()
                exp_avg += (1 - beta1) * (grad - exp_avg)  # lerp
                exp_avg_sq *= beta2
                exp_avg_sq += (1 - beta2) * grad * grad
                denom = np.sqrt(exp_avg_sq) / math.sqrt(1 - beta2 ** step) + eps
                param -= (lr / (1 - beta1 ** step)) * exp_avg / denom
            else:
                state = _state(optimizer, p, ("square_avg",))
                alpha = group["alpha"]
                state["step"] += 1
                square_avg = state["square_avg"].numpy()
                square_avg *= alpha
                square_avg += (1 - alpha) * grad * grad
                param -= lr * grad / (np.sqrt(square_avg) + eps)


def supports(optimizer: torch.optim.Optimizer) -> bool:
    """Adam without weight decay/amsgrad, or RMSprop without momentum/centering."""
    group = optimizer.defaults
    if group.get("weight_decay", 0) or group.get("maximize", False):
        return False
    if isinstance(optimizer, torch.optim.Adam):
        return not group.get("amsgrad", False)
    if isinstance(optimizer, torch.optim.RMSprop):
        return not group.get("momentum", 0) and not group.get("centered", False)
    return False
