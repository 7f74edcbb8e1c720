#!/bin/bash
# Everything a GPU session measures, in one device call (GPU time is short).
# Here:     ../shared/gpu/prepare_wheels.sh          (puts the wheels into .whl/)
# There:    bash benchmarks/gpu_check.sh             (device tool: carry [".whl"])
# Prints: the GPU tests, the cpu-vs-cuda table of README "Speed" (8/64/256/1024 envs,
# gymnasium sync and EnvPool async), EnvPool's own speed for the fractions, peak RSS and the
# score of a short cuda run, and device=auto's choice at 8 and 256 envs.
set -uo pipefail
source .whl/setup.sh || exit 1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -m pytest -q -p no:cacheprovider tests/test_gpu.py tests/test_backends.py 2>&1 | tail -3
python3 benchmarks/bench_scaling.py --num-envs 8 64 256 1024 --steps 300000 \
  --backends "gymnasium sync" "envpool async" 2>&1 | grep -v Warn
python3 - <<'PY'
import time, numpy as np
from a2c_cli.config import EnvConfig
from a2c_cli.envs.factory import make_vector_env
for n in (8, 64, 256, 1024):  # EnvPool alone, random actions: the limit at each size
    envs = make_vector_env(EnvConfig(id="LunarLander-v3", backend="envpool"), n)
    envs.reset(seed=0)
    acts = np.random.default_rng(0).integers(0, 4, (100, n))
    t = time.perf_counter()
    for i in range(max(20, 300_000 // n)):
        envs.step(acts[i % 100])
    print(f"envpool alone, {n} envs: {max(20, 300_000 // n) * n / (time.perf_counter() - t):,.0f} env steps/s")
    envs.close()
from a2c_cli.validation import resolve_device
print("device=auto at 8 envs:", resolve_device("auto", 8), "- at 256 envs:", resolve_device("auto", 256))
PY
rm -rf /tmp/gpu_run && a2c-train env=lunar_discrete device=cuda total_timesteps=500000 \
  progress=none hydra.run.dir=/tmp/gpu_run > /dev/null 2>&1
python3 -c "import json; m=json.load(open('/tmp/gpu_run/metrics.json')); print({k: m[k] for k in ('device', 'final_eval_mean_return', 'sps', 'peak_rss_mb')})"
