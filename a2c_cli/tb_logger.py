"""TensorBoard scalars and the config text, written into the run directory itself."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional

from torch.utils.tensorboard import SummaryWriter


class TensorBoardLogger:
    """A thin wrapper so the trainer never touches ``SummaryWriter`` details."""

    def __init__(self, run_dir: Path, purge_step: Optional[int] = None,
                 flush_secs: int = 30) -> None:
        # purge_step: TensorBoard hides events at or after this step from earlier files of
        # the run (what a killed session logged after its last checkpoint).
        self.writer = SummaryWriter(log_dir=str(run_dir), purge_step=purge_step,
                                    flush_secs=flush_secs)

    def scalar(self, name: str, value: float, step: int) -> None:
        self.writer.add_scalar(name, value, step)

    def scalars(self, values: Mapping[str, float], step: int) -> None:
        for name, value in values.items():
            self.writer.add_scalar(name, value, step)

    def text(self, name: str, text: str) -> None:
        self.writer.add_text(name, text, 0)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
