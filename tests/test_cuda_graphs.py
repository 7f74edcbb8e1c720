"""The CPU stand-in for CUDA graphs enforces the rules the graph backend relies on: replays
work on the captured tensors, no host synchronisation, fixed shapes, no recompiles."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from a2c_cli.errors import GraphContractError
from a2c_cli.training.cuda_graphs import StandInGraphs, no_recompiles


def test_replays_run_the_captured_code_on_the_captured_tensors():
    x, out = torch.arange(4.0), torch.zeros(4)
    graph = StandInGraphs(warmup=2).capture(lambda: out.add_(x * 2), "add")
    assert out.tolist() == [0, 6, 12, 18]  # two warm-ups and the capture ran it
    x.fill_(1.0)  # inputs are filled in place, as on a GPU
    graph.replay()
    assert out.tolist() == [2, 8, 14, 20] and graph.replays == 1


def test_a_replay_that_reads_another_tensor_is_refused():
    """What a new buffer per update does: the code reaches a tensor other than the one
    captured (a real graph would read the old addresses, or freed memory)."""
    state = {"x": torch.ones(3)}
    graph = StandInGraphs().capture(lambda: state["x"].mul_(2), "mul")
    state["x"] = torch.ones(3)
    with pytest.raises(GraphContractError, match="replay 1 of mul used .* where the capture"):
        graph.replay()


def test_a_shape_change_is_refused():
    base = torch.zeros(8)
    state = {"view": base[:4]}
    graph = StandInGraphs().capture(lambda: state["view"].add_(1), "add")
    state["view"] = base[:6]  # same storage, another shape
    with pytest.raises(GraphContractError, match=r"shape \[6\].*shape \[4\]"):
        graph.replay()


def test_host_memory_made_anew_at_each_call_is_refused():
    arrays = iter(np.ones((10, 3), np.float32))
    out = torch.zeros(3)
    graph = StandInGraphs(warmup=1).capture(lambda: out.copy_(torch.from_numpy(next(arrays))))
    with pytest.raises(GraphContractError, match="where the capture used"):
        graph.replay()


@pytest.mark.parametrize("sync", [
    lambda x: x.sum().item(),
    lambda x: bool(x.sum() > 0),
    lambda x: x.add_(1) if x.max() > 0 else None,  # Python branching on a tensor value
    lambda x: torch.nonzero(x),
    lambda x: x[x > 0],
], ids=["item", "bool", "branch", "nonzero", "masked"])
def test_host_synchronisation_inside_a_capture_is_refused(sync):
    x = torch.ones(3)
    with pytest.raises(GraphContractError, match="synchronises with the host"):
        StandInGraphs().capture(lambda: sync(x), "sync")


def test_declared_host_reads_are_allowed_and_what_follows_from_them():
    lr, x = torch.tensor(0.5), torch.ones(3)
    graphs = StandInGraphs()
    graphs.allow_host_reads(lr)
    graph = graphs.capture(lambda: x.add_(x, alpha=float(-lr)), "read")
    graph.replay()
    assert x.tolist() == [1 / 32] * 3  # 0.5 ** 5: warm-ups, capture, replay
    with pytest.raises(GraphContractError, match="synchronises"):
        graphs.capture(lambda: x.add_(float(x.sum())), "not declared")


def test_a_recompile_inside_a_capture_is_an_error_naming_the_guard():
    compiled = torch.compile(lambda a: (a * 3).relu().sum(), dynamic=False)
    compiled(torch.ones(4))
    with no_recompiles("the test graph"):
        compiled(torch.ones(4))  # the same guards: no recompile, no error
    with pytest.raises(GraphContractError, match="recompiled inside the capture of the test "
                                                  "graph.*rank mismatch"):
        with no_recompiles("the test graph"):
            compiled(torch.ones(2, 2))
