"""Running statistics for observation normalisation and reward scaling (NumPy, host side)."""

from __future__ import annotations

from typing import Dict, Union

import numpy as np

from a2c_cli.envs.packing import PackedLayout, unpack_vectors
from a2c_cli.envs.spaces import EnvSpaces


class RunningMeanStd:
    """Mean and variance of a stream of batches (parallel Welford / Chan et al. update)."""

    def __init__(self, shape: tuple[int, ...] = (), epsilon: float = 1e-4) -> None:
        self.mean = np.zeros(shape, np.float64)
        self.var = np.ones(shape, np.float64)
        self.count = epsilon

    def update(self, batch: np.ndarray) -> None:
        """Fold a batch (first axis = samples) into the statistics."""
        b_mean = batch.mean(axis=0)
        b_var = batch.var(axis=0)
        b_count = batch.shape[0]
        delta = b_mean - self.mean
        total = self.count + b_count
        self.mean = self.mean + delta * b_count / total
        m2 = self.var * self.count + b_var * b_count + delta**2 * self.count * b_count / total
        self.var = m2 / total
        self.count = total

    def state_dict(self) -> Dict[str, np.ndarray]:
        return {"mean": self.mean.copy(), "var": self.var.copy(), "count": np.array(self.count)}

    def load_state_dict(self, state: Dict[str, np.ndarray]) -> None:
        self.mean = np.asarray(state["mean"], np.float64).copy()
        self.var = np.asarray(state["var"], np.float64).copy()
        self.count = float(state["count"])


class ObsNormalizer:
    """``clip((obs - mean) / std)`` with running statistics; identity when disabled.

    Statistics are updated only through :meth:`update` (training); evaluation calls
    :meth:`normalize` alone, so the statistics stay frozen there.
    """

    def __init__(self, obs_dim: int, enabled: bool, clip: float = 10.0, eps: float = 1e-8,
                 dtype: type = np.float32, keep_last: int = 0) -> None:
        self.enabled = enabled
        self.clip = clip
        self.eps = eps
        #: What :meth:`normalize` returns when disabled: float32, or uint8 for byte pixels.
        self.dtype = dtype
        #: Trailing columns passed through as they are (an action mask), not counted in
        #: the statistics.
        self.keep_last = keep_last
        self.rms = RunningMeanStd((obs_dim - keep_last,))

    @classmethod
    def for_spaces(cls, spaces: EnvSpaces, enabled: bool,
                   clip: float = 10.0) -> Union[ObsNormalizer, PackedObsNormalizer]:
        """The normaliser for an env: images pass through in the dtype the rollout stores
        (validation refuses ``normalize_obs`` for them; the network scales pixels itself);
        packed Dict rows normalise their vector entries only."""
        if spaces.layout is not None:
            return PackedObsNormalizer(spaces.layout, enabled, clip)
        if spaces.image:
            return cls(1, False, clip, dtype=spaces.obs_dtype)
        return cls(spaces.obs_dim, enabled, clip, keep_last=spaces.action_mask_dim)

    def update(self, obs: np.ndarray) -> None:
        if self.enabled:
            self.rms.update(obs[..., :obs.shape[-1] - self.keep_last] if self.keep_last
                            else obs)

    def normalize(self, obs: np.ndarray) -> np.ndarray:
        if not self.enabled:
            return obs.astype(self.dtype, copy=False)
        if self.keep_last:
            cut = obs.shape[-1] - self.keep_last
            features = (obs[..., :cut] - self.rms.mean) / np.sqrt(self.rms.var + self.eps)
            return np.concatenate([np.clip(features, -self.clip, self.clip),
                                   obs[..., cut:]], axis=-1).astype(np.float32)
        out = (obs - self.rms.mean) / np.sqrt(self.rms.var + self.eps)
        return np.clip(out, -self.clip, self.clip).astype(np.float32)


class PackedObsNormalizer:
    """:class:`ObsNormalizer` for packed Dict/Tuple rows (:mod:`a2c_cli.envs.packing`): the
    float32 vector entries at the start of each row are normalised, image bytes pass
    through untouched."""

    def __init__(self, layout: PackedLayout, enabled: bool, clip: float = 10.0) -> None:
        self.layout = layout
        self.vectors = ObsNormalizer(max(layout.vector_dim, 1), enabled and layout.vector_dim > 0,
                                     clip)
        self.enabled = self.vectors.enabled
        self.rms = self.vectors.rms

    def update(self, rows: np.ndarray) -> None:
        if self.enabled:
            self.vectors.update(unpack_vectors(rows, self.layout))

    def normalize(self, rows: np.ndarray) -> np.ndarray:
        if not self.enabled:
            return rows.astype(np.uint8, copy=False)
        out = np.array(rows, np.uint8)
        normalized = self.vectors.normalize(unpack_vectors(rows, self.layout))
        out[..., :self.layout.vector_bytes] = np.ascontiguousarray(normalized).view(np.uint8)
        return out


class RewardScaler:
    """Divide rewards by the running std of the discounted return (SB3 VecNormalize style).

    The return accumulator restarts for an env whose episode ended; rewards are not
    centred, so the sign of every reward is kept.
    """

    def __init__(self, num_envs: int, gamma: float, enabled: bool, clip: float = 10.0,
                 eps: float = 1e-8) -> None:
        self.enabled = enabled
        self.gamma = gamma
        self.clip = clip
        self.eps = eps
        self.rms = RunningMeanStd(())
        self.returns = np.zeros(num_envs, np.float64)

    def __call__(self, rewards: np.ndarray, dones: np.ndarray,
                 envs: slice = slice(None)) -> np.ndarray:
        """Scale one step's rewards of the envs in ``envs`` (all by default); ``dones``
        marks those whose episode ended at this step."""
        if not self.enabled:
            return rewards
        returns = self.returns[envs]  # a view: updated in place
        returns *= self.gamma
        returns += rewards
        self.rms.update(returns)
        returns[dones] = 0.0
        return np.clip(rewards / np.sqrt(self.rms.var + self.eps), -self.clip, self.clip)
