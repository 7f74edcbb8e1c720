"""RMSprop as TensorFlow defines it (``algo.optimizer=rmsprop_tf``): what rl-zoo's Atari A2C
runs (Stable-Baselines3's ``RMSpropTFLike``, from the original A2C's TensorFlow code).

Two differences from ``torch.optim.RMSprop``: epsilon is added inside the square root
(``g / sqrt(v + eps)``, not ``g / (sqrt(v) + eps)``), and the running mean of squared
gradients starts at ones, not zeros. On small gradients (clipped Atari gradients have
per-parameter RMS of 1e-4 to 1e-3) torch's version takes far larger steps at first: its
``v`` starts at 0 and its eps sits outside the root.

Written for the backends' needs: the step count is a tensor, and a learning rate given as
a tensor (the CUDA-graph backend's) is read on the device, so the step can be captured;
optional momentum and centring as SB3's has them.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, Optional

import torch
from torch import Tensor, nn


class RMSpropTF(torch.optim.Optimizer):
    def __init__(self, params: Iterable[nn.Parameter], lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, momentum: float = 0.0, centered: bool = False) -> None:
        if lr < 0 or eps < 0 or momentum < 0 or not 0 <= alpha <= 1:
            raise ValueError(f"invalid RMSpropTF settings: lr={lr}, alpha={alpha}, eps={eps}, "
                             f"momentum={momentum}")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, momentum=momentum,
                                      centered=centered))

    def init_state(self, p: Tensor) -> Dict[str, Any]:
        """The state of a parameter before its first step (the square average at ones)."""
        group = next(g for g in self.param_groups if any(q is p for q in g["params"]))
        state = self.state[p]
        if not state:
            state["step"] = torch.zeros((), dtype=torch.float32, device=p.device)
            state["square_avg"] = torch.ones_like(p, memory_format=torch.preserve_format)
            if group["momentum"] > 0:
                state["momentum_buffer"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            if group["centered"]:
                state["grad_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return state

    @torch.no_grad()
    def step(self, closure: Optional[Callable[[], float]] = None) -> Optional[float]:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                state = self.init_state(p)
                state["step"] += 1
                square_avg = state["square_avg"]
                square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)
                if group["centered"]:
                    grad_avg = state["grad_avg"]
                    grad_avg.mul_(alpha).add_(grad, alpha=1 - alpha)
                    avg = square_avg.addcmul(grad_avg, grad_avg, value=-1).add_(eps).sqrt_()
                else:
                    avg = square_avg.add(eps).sqrt_()
                if group["momentum"] > 0:
                    update = state["momentum_buffer"]
                    update.mul_(group["momentum"]).addcdiv_(grad, avg)
                else:
                    update = grad / avg
                if isinstance(lr, Tensor):  # read on the device: capturable
                    p.sub_(update * lr)
                else:
                    p.add_(update, alpha=-lr)
        return loss
