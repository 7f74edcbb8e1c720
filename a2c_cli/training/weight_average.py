"""An exponential moving average of the network's weights (Polyak averaging), the policy
that evaluation, videos, ``best.pt`` and ``final.pt`` use when ``algo.ema_decay > 0``.

Training keeps stepping the online weights; only what is evaluated and delivered is the
average. Late in a run the online policy still swings from update to update (a walker
that falls now and then); the average of the last updates swings far less (Nikishin et
al., 2018, "Improving Stability in Deep Reinforcement Learning with Weight Averaging").
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Dict, Iterator

import torch
from torch import nn

#: The checkpoint keys: the online (training) weights and the number of averaged updates,
#: next to ``model``, which holds the averaged weights when averaging is on.
ONLINE_KEY, UPDATES_KEY = "model_online", "ema_updates"


class WeightAverage:
    """The average of ``flat`` (the network's one flattened parameter, see
    :func:`~a2c_cli.agent.networks.flatten_parameters`) over the updates so far.

    The decay ramps up as ``min(decay, (1 + t) / (10 + t))`` after update ``t`` (as
    TensorFlow's ExponentialMovingAverage with ``num_updates``), so early on the average
    follows the fast-changing weights instead of remembering the random initialisation.
    ``decay == 0`` turns it off: :meth:`update` does nothing and :meth:`applied` swaps
    nothing.
    """

    def __init__(self, network: nn.Module, flat: torch.Tensor, decay: float) -> None:
        self.network, self.flat, self.decay = network, flat, decay
        self.average = flat.detach().clone() if decay > 0 else None
        self.updates = 0

    def update(self) -> None:
        """Fold the weights after one more update into the average."""
        if self.average is None:
            return
        t = self.updates
        decay = min(self.decay, (1 + t) / (10 + t))
        with torch.no_grad():
            self.average.lerp_(self.flat, 1.0 - decay)
        self.updates += 1

    @contextmanager
    def applied(self) -> Iterator[None]:
        """Inside, the network holds the averaged weights (in place: every backend and
        sampler reads the same memory); the online weights come back on exit."""
        if self.average is None:
            yield
            return
        with torch.no_grad():
            online = self.flat.detach().clone()
            self.flat.copy_(self.average)
            try:
                yield
            finally:
                self.flat.copy_(online)

    def checkpoint_models(self) -> Dict[str, Any]:
        """``model`` (the weights to evaluate and deploy) and, when averaging, the online
        weights and update count that resuming needs."""
        if self.average is None:
            return {"model": self.network.state_dict()}
        online = _copied(self.network.state_dict())
        with self.applied():
            averaged = _copied(self.network.state_dict())
        return {"model": averaged, ONLINE_KEY: online, UPDATES_KEY: self.updates}

    def restore(self, payload: Dict[str, Any]) -> None:
        """Load what :meth:`checkpoint_models` wrote (the config is the same: resuming
        checks it)."""
        self.network.load_state_dict(payload["model"])
        if self.average is None:
            return
        with torch.no_grad():
            self.average.copy_(self.flat)
        self.network.load_state_dict(payload[ONLINE_KEY])
        self.updates = int(payload[UPDATES_KEY])


def _copied(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Copies of a state dict's tensors: they are views of the one flat parameter, which
    :meth:`WeightAverage.applied` overwrites."""
    return {k: v.detach().clone() for k, v in state.items()}
