"""How many threads the math of one run may use (the ``torch_threads`` setting).

Both torch and NumPy's BLAS (the CPU path's matrix products, see
:mod:`a2c_cli.numpy_mlp`) start a thread per core by default. For A2C's small matrices
that buys nothing, and with several runs side by side (a sweep on one machine) the BLAS
threads spin against each other: two default runs on 2 cores trained at about 3.8k steps/s
each instead of about 19k.
"""

from __future__ import annotations

import torch
from threadpoolctl import threadpool_limits


def limit_threads(num_threads: int) -> None:
    """Limit torch's intra-op pool and the BLAS pools (OpenBLAS, MKL ...) loaded in this
    process to ``num_threads``; 0 leaves both at their defaults."""
    if num_threads <= 0:
        return
    torch.set_num_threads(num_threads)
    threadpool_limits(limits=num_threads, user_api="blas")  # stays until the process ends
