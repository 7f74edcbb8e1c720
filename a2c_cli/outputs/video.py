"""Recording evaluation episodes as mp4 files (imageio + its bundled ffmpeg).

Video is an optional extra (``pip install 'a2c-cli[video]'``): imageio-ffmpeg ships a
~160 MB ffmpeg binary that most training runs never need.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, List, Tuple

import numpy as np

from a2c_cli.config import EnvConfig, VideoConfig
from a2c_cli.errors import ConfigError

if TYPE_CHECKING:
    from a2c_cli.agent.agent import Agent
    from a2c_cli.outputs.tensorboard import TensorBoardLogger

log = logging.getLogger("a2c_cli")

INSTALL_HINT = "install the video extra: pip install 'a2c-cli[video]' (imageio, imageio-ffmpeg)"


def require_video(key: str) -> None:
    """Raise a one-line :class:`ConfigError` naming ``key`` if video support is missing."""
    try:
        import imageio  # noqa: F401
        import imageio_ffmpeg  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"{key}=true needs video support: {INSTALL_HINT}.") from exc


#: OpenGL backends MuJoCo renders with on a machine without a display, in the order tried,
#: and the Debian package that provides each.
HEADLESS_GL = (("egl", "libegl1"), ("osmesa", "libosmesa6"))

_PROBE = """
import gymnasium as gym
from a2c_cli.envs.factory import register_namespace
register_namespace({env_id!r})
env = gym.make({env_id!r}, render_mode="rgb_array")
env.reset(seed=0)
assert env.render().ndim == 3
"""


def uses_mujoco(env_id: str) -> bool:
    """Whether gymnasium's MuJoCo envs (or dm_control-style ones on mujoco) render it."""
    import gymnasium as gym

    try:
        entry = gym.spec(env_id.rpartition(":")[2]).entry_point
    except gym.error.Error:
        return False
    return "mujoco" in str(entry)


def require_rendering(env_cfg: EnvConfig, key: str, timeout_s: float = 60.0) -> None:
    """Videos of MuJoCo envs on a headless machine: pick the OpenGL backend that renders here
    (``MUJOCO_GL``: egl, then osmesa, each tried in a child process with a time limit, since
    a broken EGL can hang), or stop at start with one line naming the variable and the
    packages. An explicit ``MUJOCO_GL`` or a ``DISPLAY`` is left as it is."""
    import os
    import subprocess
    import sys

    if not uses_mujoco(env_cfg.id) or os.environ.get("MUJOCO_GL") or os.environ.get("DISPLAY"):
        return
    for backend, _ in HEADLESS_GL:
        env = dict(os.environ, MUJOCO_GL=backend, PYOPENGL_PLATFORM=backend)
        try:
            done = subprocess.run([sys.executable, "-c", _PROBE.format(env_id=env_cfg.id)],
                                  env=env, capture_output=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            continue
        if done.returncode == 0:
            os.environ["MUJOCO_GL"] = backend
            log.info("video: MuJoCo renders with MUJOCO_GL=%s (no display here)", backend)
            return
    tried = " or ".join(f"MUJOCO_GL={b} (Debian: {pkg})" for b, pkg in HEADLESS_GL)
    raise ConfigError(f"{key}=true cannot render {env_cfg.id} here: no display and no working "
                      f"headless OpenGL; install one and set {tried}, or drop {key}.")


def record_episode(agent: Agent, env_cfg: EnvConfig, seed: int,
                   deterministic: bool = True) -> Tuple[np.ndarray, float]:
    """Play one episode in a rendering env; returns its RGB frames (T, H, W, 3) and return."""
    from a2c_cli.envs.factory import make_env_fn

    env = make_env_fn(env_cfg, render_mode="rgb_array")()
    dtype = None if agent.spaces.image else agent.spaces.obs_dtype  # pixels as the env gives
    try:
        obs, _ = env.reset(seed=seed)
        frames: List[np.ndarray] = [video_frame(env.render())]
        total, done = 0.0, False
        with agent.frozen():
            while not done:
                action = agent.act(np.asarray(obs, dtype)[None], deterministic)[0]
                obs, reward, terminated, truncated, _ = env.step(action)
                total += float(reward)
                done = bool(terminated or truncated)
                frames.append(video_frame(env.render()))
    finally:
        env.close()
    return np.stack(frames), total


#: Frames smaller than this (MinAtar's 10x10) are scaled up by whole pixels to reach it.
MIN_VIDEO_SIZE = 160


def video_frame(frame: np.ndarray) -> np.ndarray:
    """An RGB uint8 frame a video can hold: float colours in [0, 1] (MinAtar's renderer) become
    bytes, and tiny frames are enlarged with sharp pixel edges."""
    if frame.dtype != np.uint8:
        frame = (np.clip(frame, 0.0, 1.0) * 255).astype(np.uint8)
    factor = -(-MIN_VIDEO_SIZE // min(frame.shape[:2]))  # ceiling division
    if factor > 1:
        frame = frame.repeat(factor, axis=0).repeat(factor, axis=1)
    return frame


class VideoRecorder:
    """Training-time videos: an mp4 per recording and, optionally, a GIF in TensorBoard."""

    def __init__(self, agent: Agent, env_cfg: EnvConfig, cfg: VideoConfig, deterministic: bool,
                 run_dir: Path, tb: TensorBoardLogger) -> None:
        self.agent, self.env_cfg, self.cfg = agent, env_cfg, cfg
        self.deterministic, self.run_dir, self.tb = deterministic, run_dir, tb

    def record(self, step: int, seed: int) -> Path:
        frames, ret = record_episode(self.agent, self.env_cfg, seed, self.deterministic)
        path = write_mp4(self.run_dir / "videos" / f"step_{step:09d}.mp4", frames, self.cfg.fps)
        if self.cfg.tensorboard:
            self.tb.gif("videos/eval_episode", gif_bytes(frames, self.cfg.fps),
                        frames.shape[1] // 2, frames.shape[2] // 2, step)
        log.info("video at step %d: %s (return %.1f)", step, path.name, ret)
        return path


def write_mp4(path: Path, frames: np.ndarray, fps: int) -> Path:
    """H.264 mp4 (imageio's default pixel format, yuv420p, plays everywhere)."""
    import imageio.v3 as iio

    path.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, frames, fps=fps, codec="libx264", plugin="FFMPEG", macro_block_size=8)
    return path


def gif_bytes(frames: np.ndarray, fps: int, max_frames: int = 300) -> bytes:
    """A small animated GIF (every k-th frame, half size) for TensorBoard's Images tab.

    One palette for the whole episode, taken from a few of its frames: an adaptive palette
    per frame (what GIF writers do by default) costs several times the recording itself."""
    import io

    from PIL import Image

    step = max(1, len(frames) // max_frames)
    small = np.ascontiguousarray(frames[::step, ::2, ::2])
    strip = np.concatenate(small[::max(1, len(small) // 8)], axis=0)
    palette = Image.fromarray(strip).quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    images = [Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE)
              for f in small]
    out = io.BytesIO()
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:],
                   duration=1000 * step / fps, loop=0)
    return out.getvalue()
