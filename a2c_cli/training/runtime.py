"""Process-wide settings of a run: threads and seeds.

Both torch and NumPy's BLAS start a thread per core by default. For A2C's small matrices
that buys nothing, and with several runs side by side (a sweep on one machine) the BLAS
threads spin against each other (README, Speed); ``torch_threads`` caps both.
"""

from __future__ import annotations

import random

import numpy as np
import torch
from threadpoolctl import threadpool_limits


def limit_threads(num_threads: int) -> None:
    """Limit torch's intra-op pool and the BLAS pools (OpenBLAS, MKL ...) loaded in this
    process to ``num_threads``; 0 leaves both at their defaults."""
    if num_threads <= 0:
        return
    torch.set_num_threads(num_threads)
    threadpool_limits(limits=num_threads, user_api="blas")  # stays until the process ends


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (env seeds are set at reset)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
