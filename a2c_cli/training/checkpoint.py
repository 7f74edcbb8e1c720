"""Checkpoint files: written atomically, read with ``weights_only=True``.

A checkpoint holds only tensors, numbers, strings, lists and dicts, so it loads with
PyTorch's safe unpickler: opening a checkpoint someone sent you cannot run code.
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any, Dict

import numpy as np
import torch

from a2c_cli.agent.normalization import RunningMeanStd
from a2c_cli.errors import CheckpointError, first_line


def rms_to_tensors(rms: RunningMeanStd) -> Dict[str, torch.Tensor]:
    return {k: torch.as_tensor(v, dtype=torch.float64) for k, v in rms.state_dict().items()}


def rms_from_tensors(rms: RunningMeanStd, state: Dict[str, torch.Tensor]) -> None:
    rms.load_state_dict({k: np.asarray(v.numpy()) for k, v in state.items()})


def rng_state() -> Dict[str, Any]:
    """Python, NumPy and torch (CPU and CUDA) RNG states as checkpoint-safe data."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state: Dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": pos,
                  "has_gauss": has_gauss, "gauss": gauss},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"],
                         n["has_gauss"], n["gauss"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, payload: Dict[str, Any]) -> None:
    """Write ``payload`` to ``path`` via a temp file and rename: a crash mid-write never
    leaves a half-written file under the final name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: Path) -> Dict[str, Any]:
    """Load a checkpoint safely; :class:`CheckpointError` with one line if it is bad."""
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist.")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for truncated/corrupt files
        first = first_line(exc) or type(exc).__name__
        raise CheckpointError(f"checkpoint {path} cannot be read ({first}).") from exc
    if not isinstance(payload, dict) or "model" not in payload or "config" not in payload:
        raise CheckpointError(f"{path} is not an a2c-cli checkpoint (no model/config).")
    return payload
