"""The CUDA-graph backend (``backend=graph``; what ``backend=auto`` runs on a GPU).

A2C's networks are small: on a GPU, eager PyTorch spends its time launching kernels, not
running them. Here each act step (forward, sampling, writing the actions into the device
rollout at step ``t``) and the whole update (forward, GAE, loss, backward, clipping, the
optimizer step) is captured once as a CUDA graph and replayed, one launch each.

* Fixed shapes: one act graph per rollout slot (step ``t`` x the envs acting together),
  captured the first time the slot is used; one update graph, captured at the first update
  (after a resume has restored the weights and optimizer state in place). Nothing is
  captured again during training (:attr:`GraphBackend.captures` counts them).
* Fresh random numbers at every replay: sampling uses the default CUDA generator, whose
  Philox offset a captured graph advances on each replay (tests check two replays differ).
* The optimizer runs with ``capturable=True`` and a device-tensor learning rate, which the
  schedule fills in place (:func:`a2c_cli.training.optim.set_learning_rate`).
* No host synchronisation of its own: the NaN/inf guard runs inside the graph (a
  non-finite update is not applied, and none after it); its flag comes back with the next
  step's action copy and raises :class:`~a2c_cli.errors.NonFiniteError` there, or at
  :meth:`GraphBackend.finish`.

``backend=compiled`` on a GPU is this backend with ``torch.compile`` inside the graphs
(fewer, fused kernels per replay, after a compilation at start-up).

Without a GPU the same code runs eagerly (``capture=False``): tests compare it with the
eager backend on the CPU.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
from torch import Tensor

from a2c_cli.agent.agent import EagerSampler, RolloutSlots
from a2c_cli.agent.networks import ActorCritic
from a2c_cli.config import AlgoConfig
from a2c_cli.training.loss import GUARDED, UpdateStats, a2c_loss, check_finite
from a2c_cli.training.optim import clip_grad_norm, optimized_parameters, set_learning_rate
from a2c_cli.training.rollout import Rollout, RolloutBuffer


def capture_graph(fn: Callable[[], None], pool: Tuple[int, int],
                  warmup: int = 3) -> torch.cuda.CUDAGraph:
    """Run ``fn`` ``warmup`` times on a side stream (lazy initialisation must not happen
    during capture), then capture one call of it as a CUDA graph in ``pool``."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(warmup):
            fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph, pool=pool):
        fn()
    return graph


class GraphSampler(EagerSampler):
    """Training-time acting by replaying one captured graph per rollout slot."""

    def __init__(self, network: ActorCritic, device: torch.device, pool: Tuple[int, int],
                 after_sync: Callable[[], None], compiled: bool = False) -> None:
        super().__init__(network, device)
        self.pool, self.after_sync = pool, after_sync
        if compiled:  # fewer, fused kernels inside the graph
            self._act = torch.compile(network.act, dynamic=False)  # type: ignore[method-assign]
        self.graphs: Dict[Tuple[int, Optional[int], Optional[int]], torch.cuda.CUDAGraph] = {}

    def begin_step(self, buffer: RolloutSlots, t: int, envs: slice) -> None:
        obs = buffer.obs_on_device(t, envs)  # the step's one host->device copy
        key = (t, envs.start, envs.stop)
        graph = self.graphs.get(key)
        if graph is None:
            out = buffer.actions_on_device(t, envs)

            def act() -> None:
                with torch.no_grad():
                    out.copy_(self._act(obs))

            graph = self.graphs[key] = capture_graph(act, self.pool)
        graph.replay()

    def end_step(self, buffer: RolloutSlots, t: int, envs: slice) -> np.ndarray:
        actions = buffer.actions_to_host(t, envs)  # the step's one copy back, and its wait
        self.after_sync()
        return actions


class GraphBackend:
    """Acting and the update as CUDA graphs (``capture=True``, a GPU) or the same
    static-buffer code run eagerly (``capture=False``)."""

    def __init__(self, network: ActorCritic, optimizer: torch.optim.Optimizer, algo: AlgoConfig,
                 device: torch.device, capture: bool = True, compiled: bool = False) -> None:
        self.network, self.optimizer, self.algo, self.device = network, optimizer, algo, device
        self._loss = torch.compile(a2c_loss, dynamic=False) if compiled else a2c_loss
        self.params = optimized_parameters(optimizer)
        assert len(self.params) == 1 and self.params[0].grad is not None, \
            "flatten_parameters first"
        self.capture = capture
        self.sampler: EagerSampler
        if capture:
            self.pool = torch.cuda.graph_pool_handle()
            self.sampler = GraphSampler(network, device, self.pool, self._raise_if_nonfinite,
                                        compiled)
        else:
            self.sampler = EagerSampler(network, device)
        self._graph: Optional[torch.cuda.CUDAGraph] = None
        self._last_obs: Optional[Tensor] = None
        self._stats = torch.zeros(len(UpdateStats._fields), device=device)
        #: Filled in place before each update: the captured graph reads it from here.
        self._ent_coef = torch.zeros((), device=device)
        #: Index into GUARDED of the first non-finite quantity; -1 while all were finite.
        self._nonfinite = torch.full((), -1, dtype=torch.int32, device=device)
        self._nonfinite_host = torch.full((), -1, dtype=torch.int32, pin_memory=capture)
        self._saved: List[Tensor] = []

    @property
    def captures(self) -> int:
        """CUDA graphs captured so far (act slots + the update)."""
        act = len(self.sampler.graphs) if isinstance(self.sampler, GraphSampler) else 0
        return act + (self._graph is not None)

    def update(self, buffer: RolloutBuffer, last_obs: np.ndarray,
               ent_coef: float) -> UpdateStats:
        """One gradient step on the filled rollout; statistics stay on the device."""
        self._raise_if_nonfinite()
        self._ent_coef.fill_(ent_coef)
        rollout = buffer.to_device()
        if self._last_obs is None:
            self._last_obs = torch.empty(last_obs.shape, dtype=torch.from_numpy(last_obs).dtype,
                                         device=self.device)
            self._prepare_optimizer()
        self._last_obs.copy_(torch.from_numpy(last_obs), non_blocking=True)
        if not self.capture:
            self._step(rollout)
            self._nonfinite_host.copy_(self._nonfinite)
            self._raise_if_nonfinite()
        else:
            if self._graph is None:
                self._graph = self._capture_update(rollout)
            self._graph.replay()
            # Read by the next step's wait (GraphSampler) or by finish(): no wait here.
            self._nonfinite_host.copy_(self._nonfinite, non_blocking=True)
        return UpdateStats(*self._stats.clone())  # the next replay overwrites _stats

    def finish(self) -> None:
        """Raise if the last update was not applied (non-finite); waits for the GPU."""
        if self.capture:
            torch.cuda.current_stream(self.device).synchronize()
        self._raise_if_nonfinite()

    def _raise_if_nonfinite(self) -> None:
        first = int(self._nonfinite_host)
        if first >= 0:
            finite = np.ones(len(GUARDED), bool)
            finite[first] = False
            check_finite(finite)

    def _live(self) -> List[Tensor]:
        """What an update changes: the weights and the optimizer state, in place."""
        flat = self.params[0]
        state = self.optimizer.state[flat]
        return [flat.data] + [v for _, v in sorted(state.items()) if isinstance(v, Tensor)]

    def _prepare_optimizer(self) -> None:
        """Create the optimizer state now (torch does on the first step) so the graph can
        address it: a step at learning rate 0 on zero gradients changes no weight and
        leaves zero moments; its step count is reset. A resumed state is kept. On a GPU,
        the learning rate becomes a device tensor and the step capturable."""
        flat, group = self.params[0], self.optimizer.param_groups[0]
        if self.capture:
            group["capturable"] = True
            group["lr"] = torch.tensor(float(group["lr"]), device=self.device)
        if not self.optimizer.state[flat]:
            lr = float(group["lr"])
            set_learning_rate(self.optimizer, 0.0)
            flat.grad.zero_()
            self.optimizer.step()
            for value in self.optimizer.state[flat].values():
                if isinstance(value, Tensor):
                    value.zero_()
            set_learning_rate(self.optimizer, lr)
        for key, value in self.optimizer.state[flat].items():
            if self.capture and key == "step" and value.device != self.device:
                self.optimizer.state[flat][key] = value.to(self.device)
        self._saved = [t.clone() for t in self._live()]

    def _capture_update(self, rollout: Rollout) -> torch.cuda.CUDAGraph:
        """Capture the update; the warm-up steps it needs are undone (weights and optimizer
        state restored in place), so the first replay is the run's first update."""
        before = [t.clone() for t in self._live()]
        graph = capture_graph(lambda: self._step(rollout), self.pool)
        for live, value in zip(self._live(), before, strict=True):
            live.copy_(value)
        self._nonfinite.fill_(-1)
        return graph

    def _step(self, rollout: Rollout) -> None:
        """The update on static tensors: what the graph holds."""
        assert self._last_obs is not None
        flat = self.params[0]
        flat.grad.zero_()
        loss, stats = self._loss(self.network, rollout, self._last_obs, self.algo,
                                 self._ent_coef, False)
        loss.backward()
        grad_norm = clip_grad_norm(self.params, self.algo.max_grad_norm)
        finite = torch.isfinite(torch.stack([stats[0], stats[1], stats[2], grad_norm]))
        failed_before = self._nonfinite >= 0
        ok = finite.all() & ~failed_before
        live = self._live()
        for saved, value in zip(self._saved, live, strict=True):
            saved.copy_(value)
        self.optimizer.step()
        with torch.no_grad():
            for saved, value in zip(self._saved, live, strict=True):
                value.copy_(torch.where(ok, value, saved))
            first_bad = torch.argmin(finite.to(torch.int32)).to(torch.int32)
            self._nonfinite.copy_(torch.where(ok | failed_before, self._nonfinite, first_bad))
            self._stats.copy_(torch.stack([stats[0], stats[1], stats[2], stats[3],
                                           grad_norm.detach(), stats[4]]))
