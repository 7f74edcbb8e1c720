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
  Philox offset a captured graph advances on each replay (tests check the samples' law).
* The optimizer runs with ``capturable=True`` and a device-tensor learning rate, which the
  schedule fills in place (:func:`a2c_cli.training.optim.set_learning_rate`).
* A graph works on the memory it was captured on: the backend captures on the run's one
  :class:`RolloutBuffer` and refuses any other (:class:`~a2c_cli.errors.GraphContractError`).
* The NaN/inf guard runs inside the graph (a non-finite update is not applied, and none
  after it); its flag is read when the update returns, so a failed update is known before
  the step counter, logs, evaluations or checkpoints move on (one wait per update).

``backend=compiled`` on a GPU is this backend with ``torch.compile`` inside the graphs
(fewer, fused kernels per replay, after a compilation in the warm-up; a recompile during a
capture is an error with its reason).

Graphs come from a :class:`~a2c_cli.training.cuda_graphs.GraphCapturer`: real CUDA graphs
on a GPU, the CPU stand-in that enforces their rules everywhere else (tests, CI).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from torch import Tensor

from a2c_cli.agent.agent import EagerSampler, RolloutSlots
from a2c_cli.agent.networks import ActorCritic
from a2c_cli.config import AlgoConfig
from a2c_cli.errors import GraphContractError
from a2c_cli.training.cuda_graphs import Graph, GraphCapturer
from a2c_cli.training.loss import GUARDED, UpdateStats, a2c_loss, check_finite
from a2c_cli.training.optim import clip_grad_norm, optimized_parameters, set_learning_rate
from a2c_cli.training.rollout import Rollout, RolloutBuffer


def check_same_buffer(captured: Optional[object], given: object, what: str) -> None:
    """A graph replays on the buffer it was captured on: refuse any other."""
    if captured is not None and given is not captured:
        raise GraphContractError(
            f"{what} was captured on another RolloutBuffer, and a CUDA graph replays on the "
            "memory it captured: refill the run's one buffer in place.")


class GraphSampler(EagerSampler):
    """Training-time acting by replaying one captured graph per rollout slot."""

    def __init__(self, network: ActorCritic, device: torch.device, graphs: GraphCapturer,
                 compiled: bool = False) -> None:
        super().__init__(network, device)
        self.graphs = graphs
        if compiled:  # fewer, fused kernels inside the graph
            self._act = torch.compile(network.act, dynamic=False)  # type: ignore[method-assign]
        self.captured: Dict[Tuple[int, Optional[int], Optional[int]], Graph] = {}
        self._buffer: Optional[RolloutSlots] = None

    def begin_step(self, buffer: RolloutSlots, t: int, envs: slice) -> None:
        check_same_buffer(self._buffer, buffer, "the act graphs")
        self._buffer = buffer
        obs = buffer.obs_on_device(t, envs)  # the step's one host->device copy
        key = (t, envs.start, envs.stop)
        graph = self.captured.get(key)
        if graph is None:
            out = buffer.actions_on_device(t, envs)

            def act() -> None:
                with torch.no_grad():
                    out.copy_(self._act(obs))

            graph = self.captured[key] = self.graphs.capture(
                act, f"the act graph of rollout step {t}, envs {envs.start}:{envs.stop}")
        graph.replay()


class GraphBackend:
    """Acting and the update as captured graphs (CUDA graphs on a GPU; the CPU stand-in
    elsewhere)."""

    def __init__(self, network: ActorCritic, optimizer: torch.optim.Optimizer, algo: AlgoConfig,
                 device: torch.device, graphs: GraphCapturer, compiled: bool = False) -> None:
        self.network, self.optimizer, self.algo, self.device = network, optimizer, algo, device
        self.graphs = graphs
        self._loss = torch.compile(a2c_loss, dynamic=False) if compiled else a2c_loss
        self.params = optimized_parameters(optimizer)
        assert len(self.params) == 1 and self.params[0].grad is not None, \
            "flatten_parameters first"
        self.sampler = GraphSampler(network, device, graphs, compiled)
        self._graph: Optional[Graph] = None
        self._buffer: Optional[RolloutBuffer] = None
        self._last_obs: Optional[Tensor] = None
        self._stats = torch.zeros(len(UpdateStats._fields), device=device)
        #: Filled in place before each update: the captured graph reads it from here.
        self._ent_coef = torch.zeros((), device=device)
        #: Index into GUARDED of the first non-finite quantity; -1 while all were finite.
        self._nonfinite = torch.full((), -1, dtype=torch.int32, device=device)
        self._nonfinite_host = torch.full((), -1, dtype=torch.int32,
                                          pin_memory=device.type == "cuda")
        self._saved: List[Tensor] = []

    @property
    def captures(self) -> int:
        """Graphs captured so far (act slots + the update)."""
        return len(self.sampler.captured) + (self._graph is not None)

    def update(self, buffer: RolloutBuffer, last_obs: np.ndarray,
               ent_coef: float) -> UpdateStats:
        """One gradient step on the filled rollout; statistics stay on the device. Raises
        NonFiniteError (the step not applied) before returning."""
        self._raise_if_nonfinite()
        check_same_buffer(self._buffer, buffer, "the update graph")
        self._ent_coef.fill_(ent_coef)
        rollout = buffer.to_device()
        if self._last_obs is None:
            self._buffer = buffer
            self._last_obs = torch.empty(last_obs.shape, dtype=torch.from_numpy(last_obs).dtype,
                                         device=self.device)
            self._prepare_optimizer()
        self._last_obs.copy_(torch.from_numpy(last_obs), non_blocking=True)
        if self._graph is None:
            self._graph = self._capture_update(rollout)
        self._graph.replay()
        self._nonfinite_host.copy_(self._nonfinite, non_blocking=True)
        if self.device.type == "cuda":
            torch.cuda.current_stream(self.device).synchronize()
        self._raise_if_nonfinite()
        return UpdateStats(*self._stats.clone())  # the next replay overwrites _stats

    def finish(self) -> None:
        """Nothing pending: every update is checked before it returns."""

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
        leaves zero moments; its step count is reset. A resumed state is kept. The learning
        rate becomes a device tensor (the schedule fills it in place); on a GPU the step is
        capturable, elsewhere torch's optimizer reads that tensor on the host."""
        flat, group = self.params[0], self.optimizer.param_groups[0]
        if self.device.type == "cuda":
            group["capturable"] = True
        group["lr"] = torch.tensor(float(group["lr"]), device=self.device)
        if not group.get("capturable", False):
            self.graphs.allow_host_reads(group["lr"])
        init_state = getattr(self.optimizer, "init_state", None)  # RMSpropTF: not zeros
        if not self.optimizer.state[flat] and init_state is not None:
            init_state(flat)
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
            if group.get("capturable", False) and key == "step" and value.device != self.device:
                self.optimizer.state[flat][key] = value.to(self.device)
        self._saved = [t.clone() for t in self._live()]

    def _capture_update(self, rollout: Rollout) -> Graph:
        """Capture the update; the warm-up steps it needs are undone (weights and optimizer
        state restored in place), so the first replay is the run's first update."""
        before = [t.clone() for t in self._live()]
        graph = self.graphs.capture(lambda: self._step(rollout), "the update graph")
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
