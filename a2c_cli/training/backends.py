"""The backend seam: how acting and the update are computed, chosen once from the config.

A backend has a ``sampler`` (training-time actions and values, see
:class:`a2c_cli.agent.agent.Sampler`) and ``update(buffer, last_obs) -> UpdateStats``.
The loop, the collector and the learner never ask which one they have.

* ``torch``: eager PyTorch on any device.
* ``compiled``: the same through ``torch.compile`` (on a GPU: inside CUDA graphs).
* ``numpy``: a NumPy twin of the network's forward and backward (CPU, MLPs).
* ``graph``: acting and the update as CUDA graphs, the rollout on the GPU (GPU only).
* ``auto``: ``graph`` on a GPU; on the CPU ``numpy`` where the network allows it, else
  ``torch``; ``torch`` wherever the network uses gSDE (its noise is redrawn per rollout).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Protocol

import numpy as np
import torch

from a2c_cli.agent.agent import Sampler
from a2c_cli.agent.networks import ActorCritic
from a2c_cli.config import Config
from a2c_cli.envs.spaces import EnvSpaces
from a2c_cli.errors import ConfigError
from a2c_cli.training.loss import UpdateStats
from a2c_cli.training.rollout import RolloutBuffer
from a2c_cli.validation import numpy_spaces_reason, numpy_unsupported_reason

if TYPE_CHECKING:
    from a2c_cli.training.cuda_graphs import GraphCapturer


class Backend(Protocol):
    sampler: Sampler

    def update(self, buffer: RolloutBuffer, last_obs: np.ndarray,
               ent_coef: float) -> UpdateStats:
        """One gradient step on the filled rollout (``last_obs``: the normalised observation
        after its last step; ``ent_coef``: this step's entropy bonus); a step on NaN/inf is
        never applied, and NonFiniteError is raised (at once, or by the next step or
        :meth:`finish` where checking would wait)."""
        ...

    def finish(self) -> None:
        """After the last update: raise NonFiniteError if it was not applied."""
        ...


def resolve_backend(name: str, cfg: Config, device: torch.device, stand_in: bool = False,
                    spaces: Optional[EnvSpaces] = None) -> tuple[str, str]:
    """The concrete backend for ``backend=auto`` and why (for the log); other names as
    given. ``stand_in``: CUDA graphs are emulated on this device (tests), which then counts
    as a GPU here. ``spaces``: the env's, when known (the NumPy backend takes only some)."""
    gpu = device.type == "cuda" or stand_in
    if name == "graph" and not gpu:
        raise ConfigError(f"backend=graph needs a CUDA GPU, and this run is on {device.type}; "
                          "use backend=auto, or device=cuda on a machine with a GPU.")
    if name != "auto":
        return name, "as configured"
    if cfg.network.gsde:
        return "torch", "gSDE redraws its noise per rollout, which only eager torch does"
    if gpu:
        return "graph", "a GPU: acting and the update as CUDA graphs"
    reason = numpy_unsupported_reason(cfg.network)
    if reason is None and spaces is not None:
        reason = numpy_spaces_reason(spaces)
    if device.type == "cpu" and reason is None:
        return "numpy", "the CPU and an MLP: the NumPy backend is the fastest there"
    return "torch", f"the NumPy backend {reason}" if reason else "not on the CPU"


def make_backend(name: str, cfg: Config, network: ActorCritic,
                 optimizer: torch.optim.Optimizer, device: torch.device,
                 graphs: Optional[GraphCapturer] = None) -> Backend:
    """The backend ``name`` (as :func:`resolve_backend` gives it) for this run. ``graphs``
    (tests: the CPU stand-in for CUDA graphs) makes ``graph`` and ``compiled`` the graph
    backend on any device; by default it is the GPU's CUDA graphs."""
    if name == "numpy":
        from a2c_cli.training.numpy_backend import NumpyBackend

        return NumpyBackend(network, optimizer, cfg.algo)
    if name == "graph" or (name == "compiled" and (device.type == "cuda" or graphs)):
        from a2c_cli.training.cuda_graphs import CudaGraphs
        from a2c_cli.training.graph_backend import GraphBackend

        return GraphBackend(network, optimizer, cfg.algo, device, graphs or CudaGraphs(),
                            compiled=name == "compiled")
    from a2c_cli.training.torch_backend import TorchBackend

    return TorchBackend(network, optimizer, cfg.algo, device, compiled=name == "compiled",
                        num_envs=cfg.num_envs)
