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

    def gif(self, tag: str, data: bytes, height: int, width: int, step: int) -> None:
        """An animated GIF in the Images tab (what ``add_video`` does, without moviepy)."""
        from tensorboard.compat.proto.summary_pb2 import Summary

        image = Summary.Image(height=height, width=width, colorspace=3,
                              encoded_image_string=data)
        summary = Summary(value=[Summary.Value(tag=tag, image=image)])
        self.writer._get_file_writer().add_summary(summary, step)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
