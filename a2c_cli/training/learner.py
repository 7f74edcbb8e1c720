"""The A2C learner: the learning-rate and entropy-bonus schedules around a backend's
update, and the mean of the update statistics over a logging interval.

Knows nothing of Hydra, environments or logging.
"""

from __future__ import annotations

from typing import Optional, Tuple, Union

import numpy as np
import torch

from a2c_cli.config import AlgoConfig
from a2c_cli.training.backends import Backend
from a2c_cli.training.loss import UpdateStats
from a2c_cli.training.optim import entropy_coef, learning_rate, set_learning_rate
from a2c_cli.training.rollout import RolloutBuffer


class A2C:
    """One gradient step per rollout at the scheduled learning rate and entropy bonus."""

    def __init__(self, backend: Backend, optimizer: torch.optim.Optimizer,
                 algo: AlgoConfig) -> None:
        self.backend, self.optimizer, self.algo = backend, optimizer, algo
        self.lr, self.ent_coef = algo.lr, algo.ent_coef

    def update(self, buffer: RolloutBuffer, last_obs: np.ndarray,
               progress: float) -> UpdateStats:
        """Set the learning rate and entropy bonus for ``progress`` (0..1 of the run), then
        step."""
        self.lr = learning_rate(self.algo, progress)
        self.ent_coef = entropy_coef(self.algo, progress)
        set_learning_rate(self.optimizer, self.lr)
        return self.backend.update(buffer, last_obs, self.ent_coef)

    def finish(self) -> None:
        """After the last update (raises NonFiniteError if it was not applied)."""
        self.backend.finish()


class StatsMean:
    """Sums :class:`UpdateStats` where they are (tensors stay on their device: no host
    sync per update) and reads the mean once per logging interval."""

    def __init__(self) -> None:
        self._sum: Optional[Union[torch.Tensor, np.ndarray]] = None
        self.count = 0

    def add(self, stats: UpdateStats) -> None:
        vector = torch.stack(list(stats)) if isinstance(stats[0], torch.Tensor) \
            else np.array(stats, np.float64)
        self._sum = vector if self._sum is None else self._sum + vector
        self.count += 1

    def pop(self) -> Optional[Tuple[UpdateStats, UpdateStats]]:
        """(mean, sum) since the last call, or None if nothing was added; then reset."""
        if self._sum is None:
            return None
        values = self._sum.tolist()
        total = UpdateStats(*values)
        mean = UpdateStats(*(v / self.count for v in values))
        self._sum, self.count = None, 0
        return mean, total
