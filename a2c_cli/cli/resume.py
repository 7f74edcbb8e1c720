"""``a2c-train resume=<run_dir>``: continue a run in its own directory, with its own config.

The run is re-composed from the overrides it recorded in ``.hydra/overrides.yaml``, so it
gets the same config; only the keys in :data:`RESUME_OVERRIDABLE` may be given again
(``total_timesteps`` to train longer). Hydra's files for the new session go to
``.hydra/resumed/<time>/`` and leave the original ``.hydra/`` as it was.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict, List

from omegaconf import OmegaConf

from a2c_cli.config import Config, flatten_dict
from a2c_cli.errors import CheckpointError, ConfigError

#: Keys a resumed run may change; everything else must stay as the run was started.
#: ``device``, ``backend`` and ``torch_threads`` say where and how the same update is
#: computed, not what it computes: a run trained on a GPU continues on a CPU.
RESUME_OVERRIDABLE = ("total_timesteps", "progress", "log_interval_s", "debug", "plot",
                      "device", "backend", "torch_threads")
LAST = Path("checkpoints") / "last.pt"


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def resume_argv(argv: List[str]) -> List[str]:
    """Rewrite ``a2c-train resume=DIR [total_timesteps=N ...]`` into a full override list."""
    values = [a.split("=", 1)[1] for a in argv if a.startswith("resume=")]
    run_dir = Path(values[-1]).expanduser().resolve()
    if not run_dir.is_dir():
        raise CheckpointError(f"resume={values[-1]}: no such run directory.")
    if not (run_dir / LAST).is_file():
        raise CheckpointError(
            f"resume={values[-1]}: {run_dir / LAST} does not exist (a run writes it every "
            "checkpoint.every_steps env steps and when stopped by Ctrl-C or SIGTERM).")
    recorded = run_dir / ".hydra" / "overrides.yaml"
    if not recorded.is_file():
        raise CheckpointError(f"resume={values[-1]}: {recorded} is missing; "
                              "not an a2c-train run directory.")
    extra = [a for a in argv if not a.startswith("resume=")]
    for arg in extra:
        if arg.startswith("-") or _key(arg) not in RESUME_OVERRIDABLE:
            raise ConfigError(
                f"{arg} cannot be combined with resume=: a resumed run keeps its config; "
                f"only {', '.join(RESUME_OVERRIDABLE)} may be given.")
    new_keys = {_key(a) for a in extra}
    original = [str(o) for o in OmegaConf.load(recorded)
                if not str(o).startswith(("hydra.", "resume=")) and _key(str(o)) not in new_keys]
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    return [*original, *extra, f"resume='{run_dir}'", f"hydra.run.dir='{run_dir}'",
            f"hydra.output_subdir=.hydra/resumed/{stamp}"]


def check_same_config(saved: Dict[str, Any], current: Dict[str, Any], path: Path) -> None:
    """Refuse a checkpoint written under a different config (another env, network, ...).

    A key the checkpoint lacks was added to a2c-cli after it was written; it counts as its
    default (which keeps the old behaviour), so a run from an older version still resumes
    and a sweep's finished jobs are still recognised."""
    ignore = {*RESUME_OVERRIDABLE, "resume"}
    defaults = flatten_dict(OmegaConf.to_container(OmegaConf.structured(Config)))
    a, b = flatten_dict(saved), flatten_dict(current)
    a.update({key: defaults[key] for key in b.keys() - a.keys() if key in defaults})

    def priority(key: str) -> tuple[int, str]:  # the most telling difference first
        return (0 if key.startswith("env.") else 1 if key.startswith("network.") else 2, key)

    for key in sorted(set(a) | set(b), key=priority):
        if key.split(".")[0] in ignore or key in ignore:
            continue
        if a.get(key) != b.get(key):
            raise CheckpointError(f"{path} was written by a different config: {key} is "
                                  f"{a.get(key)!r} there and {b.get(key)!r} here.")
