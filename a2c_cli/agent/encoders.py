"""Image encoders: the convolutional torsos that turn pixels into the feature vector the
MLP trunk (``network.shared``) and the actor/critic heads read.

Pixels arrive as stored (uint8, (N, H, W, C) or (N, C, H, W)); the encoder scales them to
[0, 1] and puts channels first, once, so the rollout keeps one byte per pixel.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

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

    def __init__(self, name: str, spaces: EnvSpaces) -> None:
        super().__init__()
        self.channels_first = spaces.channels_first
        self.scale = 1.0 / spaces.pixel_high
        chw = spaces.image_chw
        self.net = ENCODER_BUILDERS[name](chw[0])
        with torch.no_grad():  # materialise lazy layers and learn the output size
            self.out_dim = int(self.net(torch.zeros(1, *chw)).shape[-1])

    def forward(self, obs: Tensor) -> Tensor:
        x = obs.float() * self.scale
        if not self.channels_first:
            x = x.permute(0, 3, 1, 2)
        return self.net(x)

