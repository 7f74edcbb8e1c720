"""Capturing code once and replaying it: CUDA graphs on a GPU, and a CPU stand-in that
enforces their rules where there is no GPU (every CI run), so the graph backend's tests
and a training run exercise the same capture/replay logic on both.

:class:`CudaGraphs` is the real thing: warm-ups on a side stream (lazy initialisation must
not happen during capture), then one capture into a memory pool shared by all of a
backend's graphs.

:class:`StandInGraphs` captures by running the warm-ups and then one recorded call (a
real capture records without running: code must not rely on either), and replays by running
the code again under the same recorder. It models these CUDA-graph
rules and fails loudly (:class:`~a2c_cli.errors.GraphContractError`) when code breaks one:

* A replay works on the memory captured: every tensor the code reads or writes that it did
  not create itself must be the captured one at every replay (same storage, offset, shape,
  strides, dtype, in the same order). Code that picks up another tensor later (a new
  buffer, a re-created input) would, on a GPU, silently read the old addresses.
* No host synchronisation inside the graph: ``.item()``, ``int()``/``float()``/``bool()``
  of a tensor (Python branching on tensor values), ``nonzero`` and other ops whose output
  size depends on the data. A backend may declare 0-d tensors whose host reads are allowed
  (torch's CPU RMSprop reads a tensor learning rate on the host; on a GPU the capturable
  optimizer reads the same tensor on the device).
* Fixed shapes (part of the first rule).

It does not model: freed memory (the recorded closure keeps its inputs alive; a real graph
does not, so a backend must own what it captured: :class:`GraphBackend` refuses any other
buffer), the memory pool and the order of replays, streams, host reads that bypass the
dispatcher (``.numpy()``, ``.tolist()``), and the RNG: the stand-in draws from the CPU
generator at each replay, where a real graph is fresh only through generators registered
with it (the default CUDA generator is; tests check fresh samples on both). Code compiled
with ``torch.compile`` runs compiled in the warm-ups and eagerly under the recorder (Dynamo
skips frames while a dispatch mode is active).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Protocol, Tuple

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from a2c_cli.errors import GraphContractError

#: Ops that read tensor data on the host, or whose output shape depends on it.
HOST_SYNC_OPS = frozenset({
    "aten._local_scalar_dense.default", "aten.is_nonzero.default", "aten.nonzero.default",
    "aten.masked_select.default", "aten.unique_dim.default", "aten._unique2.default",
    "aten.unique_consecutive.default", "aten.equal.default", "aten.item.default",
})


class Graph(Protocol):
    def replay(self) -> None: ...


class GraphCapturer(Protocol):
    """Captures a no-argument function that works on fixed tensors."""

    def capture(self, fn: Callable[[], None], what: str = "a graph") -> Graph: ...

    def allow_host_reads(self, *tensors: torch.Tensor) -> None:
        """0-d tensors the captured code may read on the host (a CPU optimizer's tensor
        learning rate); CUDA graphs take none."""
        ...


@contextmanager
def no_recompiles(what: str) -> Iterator[None]:
    """``torch.compile`` must not recompile inside a capture (Dynamo reads the CUDA RNG
    state while compiling, which a capture forbids, and crashes opaquely): a recompile is
    made an error naming the guard that failed."""
    import torch._dynamo

    try:
        with torch._dynamo.config.patch(error_on_recompile=True):
            yield
    except torch._dynamo.exc.RecompileError as exc:
        reason = " ".join(str(exc).split())
        raise GraphContractError(
            f"torch.compile recompiled inside the capture of {what} ({reason}); the "
            "warm-up must run the compiled code with the same inputs, shapes and grad "
            "mode as the capture. Run backend=graph (without compile) meanwhile.") from exc


class CudaGraphs:
    """Real CUDA graphs, all in one memory pool (replayed in the order captured)."""

    def __init__(self, warmup: int = 3) -> None:
        self.pool = torch.cuda.graph_pool_handle()
        self.warmup = warmup

    def allow_host_reads(self, *tensors: torch.Tensor) -> None:
        raise GraphContractError("a CUDA graph cannot read tensors on the host; make the "
                                 "optimizer capturable")

    def capture(self, fn: Callable[[], None], what: str = "a graph") -> torch.cuda.CUDAGraph:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(self.warmup):
                fn()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with no_recompiles(what), torch.cuda.graph(graph, pool=self.pool):
            fn()
        return graph


#: What a read or write of one tensor is compared by: storage, offset, shape, strides, dtype.
Access = Tuple[int, int, Tuple[int, ...], Tuple[int, ...], torch.dtype]


class _Recorder(TorchDispatchMode):
    """Records, in order, the tensors each op touches that were not created during this
    call, and refuses host synchronisation."""

    def __init__(self, what: str, host_readable: Iterable[torch.Tensor]) -> None:
        super().__init__()
        self.what = what
        self.allowed = {_storage(t) for t in host_readable}
        self.created: set[int] = set()
        self.accesses: List[Access] = []
        self.ops: List[str] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (),
                           kwargs: Optional[dict] = None) -> Any:
        kwargs = kwargs or {}
        name = _op_name(func)
        inputs = [t for t in _tensors(args) + _tensors(kwargs) if t.device.type != "meta"]
        keys = [_storage(t) for t in inputs]  # once per op: every replay runs this per op
        masked = name.startswith("aten.index") and any(t.dtype == torch.bool
                                                       for t in inputs[1:])
        if (name in HOST_SYNC_OPS or masked) and not all(k in self.allowed for k in keys):
            raise GraphContractError(
                f"{self.what} synchronises with the host inside a CUDA graph ({name}: "
                ".item(), bool()/int() of a tensor, Python branching on tensor values, or "
                "a data-dependent shape); keep the decision on the device (torch.where).")
        if name.startswith("aten.lift_fresh"):  # torch.tensor(scalar): a constant made here
            self.created.update(k for t, k in zip(inputs, keys, strict=True) if t.dim() == 0)
        for t, key in zip(inputs, keys, strict=True):
            if key not in self.created:
                self.accesses.append(_access(t, key))
                self.ops.append(name)
        out = func(*args, **kwargs)
        derived = bool(keys) and all(k in self.allowed for k in keys)
        read = set(keys)
        for t in _tensors(out):
            key = _storage(t)
            if key not in read:
                self.created.add(key)
            if derived:  # e.g. -lr: as host-readable as lr
                self.allowed.add(key)
        return out


#: str(op) by op: the recorder names every op it sees, at every replay.
_OP_NAMES: Dict[Any, str] = {}


def _op_name(func: Any) -> str:
    name = _OP_NAMES.get(func)
    if name is None:
        name = _OP_NAMES[func] = str(func)
    return name


def _tensors(tree: Any, found: Optional[List[torch.Tensor]] = None) -> List[torch.Tensor]:
    """The tensors in an op's (nested) arguments or outputs, in order."""
    found = [] if found is None else found
    if isinstance(tree, torch.Tensor):
        found.append(tree)
    elif isinstance(tree, (list, tuple, dict)):
        for item in tree.values() if isinstance(tree, dict) else tree:
            if isinstance(item, torch.Tensor):
                found.append(item)
            elif isinstance(item, (list, tuple, dict)):
                _tensors(item, found)
    return found


def _storage(t: torch.Tensor) -> int:
    return t.untyped_storage().data_ptr()


def _access(t: torch.Tensor, storage: int) -> Access:
    return (storage, t.storage_offset(), tuple(t.shape), tuple(t.stride()), t.dtype)


def _describe(access: Access) -> str:
    ptr, offset, shape, stride, dtype = access
    return (f"a {str(dtype).replace('torch.', '')} tensor of shape {list(shape)} (strides "
            f"{list(stride)}) at {ptr:#x}+{offset}")


class StandInGraph:
    """A captured function, replayed by running it again under the recorder."""

    def __init__(self, fn: Callable[[], None], what: str, accesses: List[Access],
                 ops: List[str], host_readable: Tuple[torch.Tensor, ...]) -> None:
        self.fn, self.what, self.accesses, self.ops = fn, what, accesses, ops
        self.host_readable = host_readable
        self.replays = 0

    def replay(self) -> None:
        recorder = _Recorder(self.what, self.host_readable)
        with recorder:
            self.fn()
        self.replays += 1
        if recorder.accesses == self.accesses:
            return
        for i, (was, now) in enumerate(zip(self.accesses, recorder.accesses, strict=False)):
            if was != now:
                raise GraphContractError(
                    f"replay {self.replays} of {self.what} used {_describe(now)} in "
                    f"{recorder.ops[i]} where the capture used {_describe(was)}: a CUDA graph "
                    "always works on the tensors captured; fill those in place instead.")
        raise GraphContractError(
            f"replay {self.replays} of {self.what} touched {len(recorder.accesses)} captured "
            f"tensors where the capture touched {len(self.accesses)}: the code took another "
            "path, which a CUDA graph cannot.")


class StandInGraphs:
    """:class:`CudaGraphs`' interface on the CPU, enforcing the rules above."""

    def __init__(self, warmup: int = 3, host_readable: Iterable[torch.Tensor] = ()) -> None:
        self.warmup = warmup
        self.host_readable = tuple(host_readable)

    def allow_host_reads(self, *tensors: torch.Tensor) -> None:
        """Declare 0-d tensors the captured code may read on the host (see the module)."""
        self.host_readable += tensors

    def capture(self, fn: Callable[[], None], what: str = "a graph") -> StandInGraph:
        for _ in range(self.warmup):
            fn()
        recorder = _Recorder(what, self.host_readable)
        with no_recompiles(what), recorder:
            fn()
        return StandInGraph(fn, what, recorder.accesses, recorder.ops, self.host_readable)
