"""The torch backends: eager (``backend=torch``) and ``torch.compile`` (``backend=compiled``).

Both run :func:`a2c_cli.training.loss.a2c_loss`, the clipping and the optimizer step; the
compiled one wraps the sampling step and the loss graph (forward, GAE, loss; autograd then
compiles its backward) in ``torch.compile`` with fixed shapes, so nothing recompiles
during training.
"""

from __future__ import annotations

from typing import Callable, Tuple

import numpy as np
import torch
from torch import Tensor

from a2c_cli.agent.agent import EagerSampler
from a2c_cli.agent.networks import ActorCritic
from a2c_cli.config import AlgoConfig
from a2c_cli.training.loss import UpdateStats, a2c_loss, check_finite
from a2c_cli.training.optim import clip_grad_norm, optimized_parameters
from a2c_cli.training.rollout import Rollout, RolloutBuffer

LossFn = Callable[[ActorCritic, Rollout, Tensor, AlgoConfig, Tensor, bool],
                  Tuple[Tensor, Tensor]]


class CompiledSampler(EagerSampler):
    """:class:`EagerSampler` through ``torch.compile``. Value queries (truncated envs, a
    varying count) are padded to ``max_rows`` so that one shape serves them all."""

    def __init__(self, network: ActorCritic, device: torch.device, max_rows: int) -> None:
        super().__init__(network, device)
        self.max_rows = max_rows
        self._act = torch.compile(network.act, dynamic=False)
        self._value = torch.compile(network.get_value, dynamic=False)

    def sample(self, obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self._act(self._tensor(obs)).cpu().numpy()

    def values(self, obs: np.ndarray) -> np.ndarray:
        padded = np.zeros((self.max_rows, *obs.shape[1:]), obs.dtype)
        padded[:len(obs)] = obs
        with torch.no_grad():
            return self._value(self._tensor(padded)).cpu().numpy()[:len(obs)]


class TorchBackend:
    """Acting and the update in torch, on any device."""

    def __init__(self, network: ActorCritic, optimizer: torch.optim.Optimizer, algo: AlgoConfig,
                 device: torch.device, compiled: bool = False, num_envs: int = 1) -> None:
        self.network, self.optimizer, self.algo, self.device = network, optimizer, algo, device
        self.params = optimized_parameters(optimizer)
        self.sampler = CompiledSampler(network, device, num_envs) if compiled \
            else EagerSampler(network, device)
        self._loss: LossFn = torch.compile(a2c_loss, dynamic=False) if compiled else a2c_loss
        #: On the CPU eager path GAE runs on NumPy views; a compiled graph keeps it in torch.
        self._gae_on_host = device.type == "cpu" and not compiled
        self._ent_coef = torch.zeros((), device=device)

    def finish(self) -> None:
        """Nothing pending: every update checks before its step."""

    def update(self, buffer: RolloutBuffer, last_obs: np.ndarray,
               ent_coef: float) -> UpdateStats:
        """One gradient step on the filled rollout; statistics stay on the device."""
        self._ent_coef.fill_(ent_coef)
        rollout = buffer.to_device()
        last = torch.from_numpy(last_obs).to(self.device, non_blocking=True)
        for p in self.params:  # zero in place: keeps the flattened gradient views
            if p.grad is not None:
                p.grad.zero_()
        loss, stats = self._loss(self.network, rollout, last, self.algo, self._ent_coef,
                                 self._gae_on_host)
        loss.backward()
        grad_norm = clip_grad_norm(self.params, self.algo.max_grad_norm)
        guarded = torch.stack([stats[0], stats[1], stats[2], grad_norm.detach()])
        check_finite(torch.isfinite(guarded).cpu().numpy())  # one host sync per update
        self.optimizer.step()
        return UpdateStats(stats[0], stats[1], stats[2], stats[3], grad_norm.detach(),
                           stats[4])
