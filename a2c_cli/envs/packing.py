"""Dict/Tuple observations that hold images, packed into one byte row per observation.

The rollout, the samplers, the graph backend and checkpoints all handle one array per step,
and they keep doing so for a ``Dict`` of a camera image and a few sensors: each observation
becomes one uint8 row holding, in order, the non-image entries flattened as gymnasium
flattens them (one-hot for ``Discrete``) as float32 bytes, then each float image's float32
bytes, then each byte image's own bytes. Images stay one byte per pixel, vectors stay
float32, and the network unpacks a row by views (:class:`~a2c_cli.agent.encoders.
PackedEncoder`: one encoder per image entry, as SB3's ``CombinedExtractor``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, List, Tuple

import gymnasium as gym
import numpy as np

from a2c_cli.errors import UnsupportedEnvError

FLOAT_BYTES = 4


@dataclass(frozen=True)
class ImageEntry:
    """One image entry of a packed row."""

    key: Any
    #: Byte offset of the image in the row.
    offset: int
    #: The image's own shape, (H, W, C) or (C, H, W).
    shape: Tuple[int, ...]
    channels_first: bool
    pixel_high: float
    #: Stored as float32 (float pixels in [0, 255]) rather than bytes.
    floats: bool = False

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * (FLOAT_BYTES if self.floats else 1)

    @property
    def chw(self) -> Tuple[int, int, int]:
        s = self.shape
        return s if self.channels_first else (s[2], s[0], s[1])  # type: ignore[return-value]


@dataclass(frozen=True)
class PackedLayout:
    """Where each entry lies in a packed row."""

    #: Keys of the non-image entries, flattened into ``vector_dim`` float32 values at the
    #: row's start (the part observation normalisation applies to).
    vector_keys: Tuple[Any, ...]
    vector_dim: int
    images: Tuple[ImageEntry, ...]
    row_bytes: int

    @property
    def vector_bytes(self) -> int:
        return FLOAT_BYTES * self.vector_dim


class PackedBox(gym.spaces.Box):
    """The packed rows' space: a flat uint8 ``Box`` that carries its :class:`PackedLayout`."""

    def __init__(self, layout: PackedLayout) -> None:
        super().__init__(0, 255, (layout.row_bytes,), np.uint8)
        self.layout = layout


def channels_first(shape: Tuple[int, ...]) -> bool:
    """Whether an image shape is (C, H, W): a leading axis smaller than both others, as
    frame stacks give (4, 84, 84). Otherwise (H, W, C), gymnasium's convention for images
    (Atari's (210, 160, 3), MinAtar's (10, 10, n) even when n = 10)."""
    return shape[0] < shape[1] and shape[0] < shape[2]


def image_entry_fields(space: gym.spaces.Box) -> Tuple[bool, float]:
    """(stored as floats, pixel high) for a 3-d ``Box``, or one line saying why it cannot be
    read as an image."""
    high = float(np.max(space.high))
    as_bytes = space.dtype in (np.uint8, np.bool_)
    if not as_bytes and not high <= 255:
        raise UnsupportedEnvError(
            f"image observation space {space} is not supported: a2c-cli reads images of "
            "uint8 or bool pixels, or floats within [0, 255].")
    return not as_bytes, max(high, 1.0)


def entries_of(space: gym.Space) -> List[Tuple[Any, gym.Space]]:
    """(key, subspace) of a ``Dict`` (its keys) or a ``Tuple`` (its indices)."""
    if isinstance(space, gym.spaces.Dict):
        return list(space.spaces.items())
    return list(enumerate(space.spaces))


def is_image(space: gym.Space) -> bool:
    """A 3-d ``Box``: an image, (H, W, C) or (C, H, W)."""
    return isinstance(space, gym.spaces.Box) and len(space.shape) == 3


def layout_of(space: gym.Space) -> PackedLayout:
    """The packed layout of a one-level ``Dict``/``Tuple`` that holds an image."""
    entries = entries_of(space)
    vector_keys = tuple(k for k, sub in entries if not is_image(sub))
    vector_dim = sum(gym.spaces.flatdim(sub) for k, sub in entries if not is_image(sub))
    images, offset = [], FLOAT_BYTES * vector_dim
    fields = {k: image_entry_fields(sub) for k, sub in entries if is_image(sub)}
    # Float images first, so every float32 value starts at a multiple of 4 bytes.
    for want_floats in (True, False):
        for key, sub in entries:
            if is_image(sub) and fields[key][0] == want_floats:
                shape = tuple(int(s) for s in sub.shape)
                entry = ImageEntry(key, offset, shape, channels_first(shape), fields[key][1],
                                   floats=want_floats)
                images.append(entry)
                offset += entry.nbytes
    row_bytes = -(-offset // FLOAT_BYTES) * FLOAT_BYTES  # rows of whole float32 words
    return PackedLayout(vector_keys, vector_dim, tuple(images), row_bytes)


class PackObservation(gym.ObservationWrapper):
    """Observations of a ``Dict``/``Tuple`` holding images as packed rows (module doc)."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.inner_space = env.observation_space
        self.layout = layout_of(self.inner_space)
        self.observation_space = PackedBox(self.layout)
        subspaces = dict(entries_of(self.inner_space))
        self._vector_spaces = [(k, subspaces[k]) for k in self.layout.vector_keys]

    def observation(self, observation: Any) -> np.ndarray:
        layout = self.layout
        row = np.zeros(layout.row_bytes, np.uint8)
        if layout.vector_dim:
            vector = np.concatenate([np.asarray(gym.spaces.flatten(sub, observation[k]),
                                                np.float32).reshape(-1)
                                     for k, sub in self._vector_spaces])
            row[:layout.vector_bytes] = vector.view(np.uint8)
        for entry in layout.images:
            pixels = np.asarray(observation[entry.key],
                                np.float32 if entry.floats else np.uint8).reshape(-1)
            row[entry.offset:entry.offset + entry.nbytes] = pixels.view(np.uint8)
        return row


def unpack_vectors(rows: np.ndarray, layout: PackedLayout) -> np.ndarray:
    """The float32 vector part of packed rows (..., row_bytes) -> (..., vector_dim)."""
    return np.ascontiguousarray(rows[..., :layout.vector_bytes]).view(np.float32)
