"""Training and evaluation env seeds of one run never coincide, whatever the step a run is
resumed at and whatever its batch size."""

from __future__ import annotations

import itertools

import pytest

from a2c_cli.config import MAX_ENVS
from a2c_cli.training.seeds import eval_env_seed, train_env_seed


def seeds(base: int, count: int) -> range:
    return range(base, base + count)


@pytest.mark.parametrize("seed", [0, 7, 999_999, 12_345_678])
def test_training_and_evaluation_seeds_are_disjoint(seed):
    for num_envs, n_steps, eval_envs in itertools.product([1, 3, 8, 64, 1024], [1, 5, 16, 128],
                                                          [1, 8, 100]):
        batch = num_envs * n_steps
        evaluation = set(seeds(eval_env_seed(seed), eval_envs))
        # sessions resumed at every checkpointable step of a long run, including the steps
        # near 1,000,000 where seed + step used to meet the evaluation seeds
        steps = [0, *range(batch, 3_000_000, batch * max(1, 997 // n_steps))]
        steps += [s - s % batch for s in (999_960, 1_000_000, 1_000_040, 2_000_000)]
        used: set[int] = set()
        for step in sorted(set(steps)):
            training = set(seeds(train_env_seed(seed, step), num_envs))
            assert not training & evaluation, (num_envs, n_steps, step)
            assert not training & used, (num_envs, n_steps, step)  # sessions differ too
            used |= training


def test_ranges_stay_disjoint_at_the_largest_sets():
    """The same as intervals, at MAX_ENVS envs per set (the validated limit)."""
    seed, n = 5, MAX_ENVS
    first = (train_env_seed(seed, 0), train_env_seed(seed, 0) + n)
    evaluation = (eval_env_seed(seed), eval_env_seed(seed) + n)
    resumed = (train_env_seed(seed, n), train_env_seed(seed, n) + n)  # earliest resume
    assert first[1] <= evaluation[0] and evaluation[1] <= resumed[0]


def test_first_session_seeds_are_unchanged():
    """A run that is never resumed keeps the seeds its published results used."""
    assert train_env_seed(3, 0) == 3 and eval_env_seed(3) == 1_000_003
