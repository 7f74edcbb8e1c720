"""Screenshots of TensorBoard for the docs' Outputs page, of a real small sweep.

Trains a 4-job CartPole sweep (two learning rates x two seeds, the preset's 150k steps),
starts TensorBoard on it, and has a headless Chromium (Debian's ``chromium`` package)
photograph the Scalars dashboard (filtered to the episodic and evaluation returns) and the
HParams table, into ``docs/tensorboard_scalars.png`` and ``docs/tensorboard_hparams.png``.

    python docs/scripts/tensorboard_screenshots.py      # or: make docs-screenshots

The Scalars view is TensorBoard's classic dashboard (``#scalars``): the Time Series view
draws its lines with WebGL, which a headless Chromium without a GPU leaves blank.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
OUT = ROOT / "docs"
#: file -> (TensorBoard view, window size): the HParams table is wide (one column per
#: hyperparameter and metric), so its window is too.
VIEWS = {"tensorboard_scalars.png": ("#scalars&tagFilter=episodic_return%7Ceval%2Fmean_return",
                                     "1400,800"),
         "tensorboard_hparams.png": ("#hparams", "2400,600")}
TB_START_S = 90


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train_sweep(sweep_dir: Path) -> None:
    subprocess.run([str(BIN / "a2c-train"), "-m", "env=cartpole", "algo.lr=1e-3,3e-3",
                    "seed=0,1", f"hydra.sweep.dir={sweep_dir}",
                    "hydra.job.config.override_dirname.exclude_keys=[env]"],
                   check=True, cwd=sweep_dir.parent, stdout=subprocess.DEVNULL)


def wait_for(url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise TimeoutError(f"TensorBoard did not answer at {url} within {timeout_s:.0f} s")


def screenshot(browser: str, url: str, size: str, path: Path) -> None:
    subprocess.run([browser, "--headless=new", "--no-sandbox", "--hide-scrollbars",
                    f"--window-size={size}", "--virtual-time-budget=40000",
                    f"--screenshot={path}", url],
                   check=True, timeout=180, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        sys.exit("docs screenshots need a headless Chromium: apt-get install chromium")
    with tempfile.TemporaryDirectory() as tmp:
        sweep = Path(tmp) / "sweep"
        train_sweep(sweep)
        port = free_port()
        tb = subprocess.Popen([str(BIN / "tensorboard"), "--logdir", str(sweep), "--port",
                               str(port), "--host", "127.0.0.1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(f"http://127.0.0.1:{port}/data/runs", TB_START_S)
            for name, (view, size) in VIEWS.items():
                screenshot(browser, f"http://127.0.0.1:{port}/{view}", size, OUT / name)
                print(f"wrote {(OUT / name).relative_to(ROOT)}")
        finally:
            tb.terminate()
            try:
                tb.wait(timeout=10)
            except subprocess.TimeoutExpired:
                tb.kill()


if __name__ == "__main__":
    main()
