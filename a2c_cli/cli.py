"""``a2c-train``: the Hydra entrypoint. Thin: composes the config, hands it to the task.

Bad input (config values, unknown env ids, unsupported spaces) ends with one line on
stderr and exit code 2; ``HYDRA_FULL_ERROR=1`` shows the traceback instead.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from a2c_cli.config import register_configs


def find_config_dir() -> Path:
    """The packaged ``a2c_cli/conf`` (installed wheel), else the checkout's ``conf/``."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "conf", here.parent / "conf"):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise FileNotFoundError(f"a2c-cli config directory not found next to {here}")


register_configs()


@hydra.main(version_base="1.3", config_path=str(find_config_dir()), config_name="config")
def main(cfg: DictConfig) -> Optional[float]:
    """Train one run; returns the final evaluation mean (the objective for sweepers)."""
    from a2c_cli.errors import USER_ERRORS

    hydra_cfg = HydraConfig.get()
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    try:
        from a2c_cli.task import train

        metrics = train(cfg, Path(hydra_cfg.runtime.output_dir), multirun=multirun)
    except USER_ERRORS as exc:
        if os.environ.get("HYDRA_FULL_ERROR") == "1" or multirun:
            raise
        print(f"a2c-train: error: {exc}", file=sys.stderr)
        sys.exit(2)
    return metrics["final_eval_mean_return"]


if __name__ == "__main__":
    main()
