"""Which seed each set of environments gets, derived from the run's ``seed``.

Env i of a set gets ``base + i``. The bases keep the sets of one run disjoint for any step
and any batch size, given at most :data:`MAX_ENVS` envs per set (validated):

* evaluation: ``seed + EVAL_SEED_OFFSET`` (the same at every evaluation, and in a2c-eval);
* training, first session: ``seed``;
* training, a session resumed at ``global_step`` (> 0): ``seed + RESUME_SEED_OFFSET +
  global_step``: fresh episodes, reproducibly, above every evaluation seed, and disjoint
  between sessions because sessions start at least one rollout (>= num_envs steps) apart.
"""

from __future__ import annotations

from a2c_cli.config import MAX_ENVS

EVAL_SEED_OFFSET = MAX_ENVS
RESUME_SEED_OFFSET = 2 * MAX_ENVS


def train_env_seed(seed: int, global_step: int) -> int:
    """The base seed of the training envs of a session that starts at ``global_step``."""
    return seed if global_step == 0 else seed + RESUME_SEED_OFFSET + global_step


def eval_env_seed(seed: int) -> int:
    """The base seed of the evaluation envs."""
    return seed + EVAL_SEED_OFFSET


def video_seed(seed: int, global_step: int) -> int:
    """The episode recorded at ``global_step`` (a display, not a measurement)."""
    return seed + EVAL_SEED_OFFSET + global_step
