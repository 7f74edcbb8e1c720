"""When scheduled events (logging, evaluation, checkpoints, videos) are due, in env steps."""

from __future__ import annotations

from typing import Iterable, List


class Every:
    """Due at every multiple of ``period`` env steps; never when ``period`` is 0."""

    def __init__(self, period: int, step: int = 0) -> None:
        self.period = period
        self._next = (step // period + 1) * period if period > 0 else None

    def due(self, step: int) -> bool:
        """True once when ``step`` reaches the next multiple (then waits for the one after;
        a rollout that passes several multiples counts once)."""
        if self._next is None or step < self._next:
            return False
        self._next = (step // self.period + 1) * self.period
        return True


class AtSteps:
    """Due when ``step`` passes each of the given steps (several at once count once)."""

    def __init__(self, steps: Iterable[int], step: int = 0) -> None:
        self._pending: List[int] = sorted(s for s in steps if s > step)

    @classmethod
    def spread(cls, count: int, end: int, step: int = 0, enabled: bool = True) -> AtSteps:
        """``count`` steps evenly over ``(0, end]``, the last at ``end``."""
        return cls([end * k // count for k in range(1, count + 1)] if enabled else [], step)

    def due(self, step: int) -> bool:
        if not self._pending or step < self._pending[0]:
            return False
        self._pending = [s for s in self._pending if s > step]
        return True
