"""Process-wide settings of a run: threads and seeds.

Both torch and NumPy's BLAS start a thread per core by default. For A2C's small matrices
that buys nothing, and with several runs side by side (a sweep on one machine) the BLAS
threads spin against each other (docs: Speed); ``torch_threads`` caps both.
"""

from __future__ import annotations

import random
import sys

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


def skip_dynamo_import_for_optimizers() -> None:
    """Spare a run that compiles nothing the import of ``torch._dynamo`` (most of a second).

    ``torch.optim.Optimizer`` wraps ``add_param_group``, ``state_dict``, ``load_state_dict``
    and ``zero_grad`` in ``torch._disable_dynamo``, which imports the compiler stack on the
    first call only to mark them "never compile", and caches that as ``__dynamo_disable``
    on the function. For a backend that compiles nothing (the NumPy one, which also never
    calls ``optimizer.step``), the plain function is that marking already; so it is cached
    here. If torch changes this private mechanism, nothing breaks: the import comes back.
    """
    if "torch._dynamo" in sys.modules:
        return
    for name in ("add_param_group", "state_dict", "load_state_dict", "zero_grad"):
        fn = getattr(getattr(torch.optim.Optimizer, name, None), "__wrapped__", None)
        if fn is not None and getattr(fn, "__dynamo_disable", None) is None:
            setattr(fn, "__dynamo_disable", fn)
