"""Which seed each set of environments gets, derived from the run's ``seed``."""

from __future__ import annotations

#: Offset between training and evaluation env seeds, so they never see the same episodes.
EVAL_SEED_OFFSET = 1_000_000


def train_env_seed(seed: int, global_step: int) -> int:
    """Training env i gets this + i. A resumed run starts fresh episodes from its step."""
    return seed + global_step


def eval_env_seed(seed: int) -> int:
    """Evaluation env i gets this + i, at every evaluation (and in a2c-eval by default)."""
    return seed + EVAL_SEED_OFFSET


def video_seed(seed: int, global_step: int) -> int:
    """The episode recorded at ``global_step``."""
    return seed + EVAL_SEED_OFFSET + global_step
