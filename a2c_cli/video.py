"""Recording evaluation episodes as mp4 files (imageio + its bundled ffmpeg).

Video is an optional extra (``pip install 'a2c-cli[video]'``): imageio-ffmpeg ships a
~160 MB ffmpeg binary that most training runs never need.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Tuple

import numpy as np

from a2c_cli.config import EnvConfig
from a2c_cli.envs import make_env_fn
from a2c_cli.evaluation import Policy
from a2c_cli.validation import ConfigError

INSTALL_HINT = "install the video extra: pip install 'a2c-cli[video]' (imageio, imageio-ffmpeg)"


def require_video(key: str) -> None:
    """Raise a one-line :class:`ConfigError` naming ``key`` if video support is missing."""
    try:
        import imageio  # noqa: F401
        import imageio_ffmpeg  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"{key}=true needs video support: {INSTALL_HINT}.") from exc


def record_episode(policy: Policy, env_cfg: EnvConfig, seed: int,
                   deterministic: bool = True) -> Tuple[np.ndarray, float]:
    """Play one episode in a rendering env; returns its RGB frames (T, H, W, 3) and return."""
    env = make_env_fn(env_cfg, render_mode="rgb_array")()
    try:
        obs, _ = env.reset(seed=seed)
        frames: List[np.ndarray] = [env.render()]
        total, done = 0.0, False
        was_training = policy.network.training
        policy.network.eval()
        try:
            while not done:
                action = policy.act(np.asarray(obs, np.float32)[None], deterministic)[0]
                obs, reward, terminated, truncated, _ = env.step(action)
                total += float(reward)
                done = bool(terminated or truncated)
                frames.append(env.render())
        finally:
            policy.network.train(was_training)
    finally:
        env.close()
    return np.stack(frames), total


def write_mp4(path: Path, frames: np.ndarray, fps: int) -> Path:
    """H.264 mp4 (imageio's default pixel format, yuv420p, plays everywhere)."""
    import imageio.v3 as iio

    path.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, frames, fps=fps, codec="libx264", plugin="FFMPEG", macro_block_size=8)
    return path


def gif_bytes(frames: np.ndarray, fps: int, max_frames: int = 300) -> bytes:
    """A small animated GIF (every k-th frame, half size) for TensorBoard's Images tab."""
    import imageio.v3 as iio

    step = max(1, len(frames) // max_frames)
    small = frames[::step, ::2, ::2]
    return iio.imwrite("<bytes>", small, extension=".gif", duration=1000 * step / fps, loop=0)
