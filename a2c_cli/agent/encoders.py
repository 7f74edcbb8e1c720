"""Image encoders: the convolutional torsos that turn pixels into the feature vector the
MLP trunk (``network.shared``) and the actor/critic heads read.

Pixels arrive as stored (uint8, (N, H, W, C) or (N, C, H, W)); the encoder scales them to
[0, 1] and puts channels first, once, so the rollout keeps one byte per pixel.
"""

from __future__ import annotations

from typing import Tuple

import torch
from torch import Tensor, nn

from a2c_cli.envs.packing import PackedLayout
from a2c_cli.envs.spaces import EnvSpaces


def nature_cnn(channels: int) -> nn.Sequential:
    """The DQN/A2C Atari torso (Mnih et al., 2015; 2016): 32x8x8/4, 64x4x4/2, 64x3x3/1,
    then a 512-unit linear layer, ReLU throughout."""
    return nn.Sequential(
        nn.Conv2d(channels, 32, 8, stride=4), nn.ReLU(),
        nn.Conv2d(32, 64, 4, stride=2), nn.ReLU(),
        nn.Conv2d(64, 64, 3, stride=1), nn.ReLU(),
        nn.Flatten(), nn.LazyLinear(512), nn.ReLU(),
    )


def minatar_cnn(channels: int) -> nn.Sequential:
    """MinAtar's torso for 10x10 frames (Young & Tian, 2019): one 16x3x3/1 convolution;
    its flattened output feeds the MLP trunk (the MinAtar preset: one 128-unit layer)."""
    return nn.Sequential(nn.Conv2d(channels, 16, 3, stride=1), nn.ReLU(), nn.Flatten())


#: The network for each name in :data:`a2c_cli.config.ENCODERS` but "none".
ENCODER_BUILDERS = {"nature_cnn": nature_cnn, "minatar_cnn": minatar_cnn}


class ImageEncoder(nn.Module):
    """Scale, reorder to channels-first, convolve, flatten."""

    def __init__(self, name: str, chw: Tuple[int, int, int], channels_first: bool,
                 pixel_high: float) -> None:
        super().__init__()
        self.channels_first = channels_first
        self.scale = 1.0 / pixel_high
        self.net = ENCODER_BUILDERS[name](chw[0]) if name != "none" else nn.Flatten()
        with torch.no_grad():  # materialise lazy layers and learn the output size
            self.out_dim = int(self.net(torch.zeros(1, *chw)).shape[-1])

    @classmethod
    def for_spaces(cls, name: str, spaces: EnvSpaces) -> ImageEncoder:
        """The encoder of an env whose observations are one image."""
        return cls(name, spaces.image_chw, spaces.channels_first, spaces.pixel_high)

    def forward(self, obs: Tensor) -> Tensor:
        x = obs.float() * self.scale
        if not self.channels_first:
            x = x.permute(0, 3, 1, 2)
        return self.net(x)


class PackedEncoder(nn.Module):
    """Packed Dict/Tuple rows (:mod:`a2c_cli.envs.packing`) to one feature vector: the
    vector entries as they are, each image through an encoder of its own (``name``; "none"
    flattens the scaled pixels), concatenated, as SB3's ``CombinedExtractor``. The rows are
    unpacked by views: no copy of the rollout."""

    def __init__(self, name: str, layout: PackedLayout) -> None:
        super().__init__()
        self.layout = layout
        self.images = nn.ModuleList(
            ImageEncoder(name, entry.chw, entry.channels_first, entry.pixel_high)
            for entry in layout.images)
        self.out_dim = layout.vector_dim + sum(
            enc.out_dim for enc in self.images)  # type: ignore[misc]

    def forward(self, rows: Tensor) -> Tensor:
        layout, batch = self.layout, rows.shape[0]
        parts = []
        if layout.vector_dim:
            parts.append(rows[:, :layout.vector_bytes].view(torch.float32))
        for entry, encoder in zip(layout.images, self.images, strict=True):
            raw = rows[:, entry.offset:entry.offset + entry.nbytes]
            pixels = raw.view(torch.float32) if entry.floats else raw
            parts.append(encoder(pixels.reshape(batch, *entry.shape)))
        return torch.cat(parts, dim=-1) if len(parts) > 1 else parts[0]

