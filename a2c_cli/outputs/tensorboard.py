"""TensorBoard scalars and the config text, written into the run directory itself."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Union

from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.compat.proto.summary_pb2 import Summary
from torch.utils.tensorboard import SummaryWriter

from a2c_cli.config import flatten_dict

HParamValue = Union[int, float, str, bool]
#: Events buffered for the writer thread (the loop never waits for it below this).
MAX_QUEUE = 10_000
#: Keys that describe how a run is shown or stored, not what it learns.
NOT_HPARAMS = ("progress", "log_interval_s", "log_every_steps", "debug", "resume", "plot",
               "checkpoint.", "video.", "eval.every_steps", "eval.episodes")


class TensorBoardLogger:
    """A thin wrapper so the trainer never touches ``SummaryWriter`` details."""

    def __init__(self, run_dir: Path, purge_step: Optional[int] = None,
                 flush_secs: int = 30) -> None:
        # purge_step: TensorBoard hides events at or after this step from earlier files of
        # the run (what a killed session logged after its last checkpoint).
        # max_queue: events wait in memory until the writer thread takes them; with the
        # default of 10 the training loop blocked on it whenever episodes were short.
        self.writer = SummaryWriter(log_dir=str(run_dir), purge_step=purge_step,
                                    flush_secs=flush_secs, max_queue=MAX_QUEUE)

    def scalar(self, name: str, value: float, step: int) -> None:
        self.scalars({name: value}, step)

    def scalars(self, values: Mapping[str, float], step: int) -> None:
        """All ``values`` at ``step`` as one event (what ``add_scalar`` writes per value:
        ``simple_value`` summaries). Each event costs a hand-over to the writer thread,
        the larger part of logging a scalar, so a short episode's two scalars share one."""
        summary = Summary(value=[Summary.Value(tag=name, simple_value=float(value))
                                 for name, value in values.items()])
        self.writer._get_file_writer().add_event(
            Event(wall_time=time.time(), step=int(step), summary=summary))

    def text(self, name: str, text: str) -> None:
        self.writer.add_text(name, text, 0)

    def gif(self, tag: str, data: bytes, height: int, width: int, step: int) -> None:
        """An animated GIF in the Images tab (what ``add_video`` does, without moviepy)."""
        image = Summary.Image(height=height, width=width, colorspace=3,
                              encoded_image_string=data)
        summary = Summary(value=[Summary.Value(tag=tag, image=image)])
        self.writer._get_file_writer().add_summary(summary, step)

    def hparams(self, hparams: Mapping[str, HParamValue], trial: str = "") -> None:
        """HParams-plugin data in this run's own event file (``add_hparams`` would make a
        sub-run), so ``tensorboard --logdir <sweep>`` compares the jobs in its HParams tab.

        Only the session's start (its hyperparameters, and ``trial``: the name the table
        shows, e.g. a job's overrides) and end: no experiment summary. A run cannot know
        what its sweep varies, and TensorBoard uses the first experiment summary it finds,
        whose keys it then sorts by name; without one it builds the experiment from all
        the runs it shows, with the keys whose values differ between them first (what the
        sweep varies, seeds included) and every scalar tag as a metric."""
        from tensorboard.plugins.hparams import plugin_data_pb2
        from torch.utils.tensorboard.summary import hparams as hparams_summaries

        _experiment, start, end = hparams_summaries(dict(hparams), {})
        metadata = start.value[0].metadata.plugin_data
        data = plugin_data_pb2.HParamsPluginData.FromString(metadata.content)
        data.session_start_info.group_name = trial
        metadata.content = data.SerializeToString()
        file_writer = self.writer._get_file_writer()
        file_writer.add_summary(start)
        file_writer.add_summary(end)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def flatten_hparams(config: Mapping[str, Any]) -> Dict[str, HParamValue]:
    """The config as HParams: dotted keys; lists and None become strings; keys that do not
    change what is learned (:data:`NOT_HPARAMS`) are left out."""
    out: Dict[str, HParamValue] = {}
    for key, value in flatten_dict(config).items():
        if any(key == skip or (skip.endswith(".") and key.startswith(skip))
               for skip in NOT_HPARAMS):
            continue
        out[key] = value if isinstance(value, (bool, int, float, str)) else str(value)
    return out
