"""``metrics.json``: what a run reports when it ends, however it ends."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np


def write_json(path: Path, data: Dict[str, Any]) -> None:
    """Write JSON atomically (temp file + rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def rounded_or_none(value: float) -> Optional[float]:
    """``value`` to 0.1, or None (JSON null) when it is not known (NaN)."""
    return round(value, 1) if math.isfinite(value) else None


def run_metrics(*, status: str, env_id: str, seed: int, final_returns: Optional[np.ndarray],
                target: Optional[float], best_eval: Optional[float],
                first_solved: Optional[Dict[str, float]], total_timesteps: int,
                frames_per_step: int, wall_time_s: float, train_time_s: float, device: str,
                peak_rss_mb: float) -> Dict[str, Any]:
    """The ``metrics.json`` dict; ``final_returns`` None when no final evaluation ran.
    ``total_timesteps`` counts agent steps (summed over envs); ``frames`` the emulator
    frames they played (Atari: 4 per step), the unit many papers give budgets in."""
    done = final_returns is not None
    mean = float(final_returns.mean()) if done else None
    std = float(final_returns.std()) if done else None
    return {
        "status": status,
        "env_id": env_id,
        "seed": seed,
        "final_eval_mean_return": mean,
        "final_eval_std_return": std,
        "final_eval_episodes": len(final_returns) if done else 0,
        "final_eval_returns": [round(r, 2) for r in final_returns.tolist()] if done else [],
        "target_return": target,
        "solved": bool(mean is not None and target is not None and mean >= target),
        "best_eval_mean_return": best_eval,
        "first_solved_eval": first_solved,
        "total_timesteps": total_timesteps,
        "agent_steps": total_timesteps,
        "frames": total_timesteps * frames_per_step,
        "frames_per_step": frames_per_step,
        "wall_time_s": round(wall_time_s, 2),
        "train_time_s": round(train_time_s, 2),
        "sps": round(total_timesteps / max(train_time_s, 1e-9), 1),
        "device": device,
        "peak_rss_mb": rounded_or_none(peak_rss_mb),
    }
