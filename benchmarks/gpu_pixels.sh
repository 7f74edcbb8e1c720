#!/bin/bash
# Pong and Breakout on the GPU machine, in one device call (GPU time is short).
# Here:     EXTRA="ale-py==0.12.1" ../shared/gpu/prepare_wheels.sh
# There:    bash benchmarks/gpu_pixels.sh [SECONDS]     (device tool: carry [".whl"])
# Trains env=pong and env=breakout (the presets' 10M agent steps = 40M frames each; EnvPool's
# C++ Atari, device=auto = cuda for CNNs, side by side) until done or SECONDS (default 540),
# stopping gracefully at the deadline; prints each run's steps/s, evaluations, final score
# and peak RSS.
set -uo pipefail
deadline=$((SECONDS + ${1:-540}))
out=${OUT:-/tmp/gpu_pixels_out}; mkdir -p "$out"
exec > >(tee "$out/gpu_pixels.log") 2>&1
source .whl/setup.sh || exit 1
# setup.sh registers only EnvPool's box2d and classic-control families; add Atari.
echo 'import envpool.atari.registration' >> /tmp/site/envpool/entry.py
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
runs=/tmp/pixels; rm -rf $runs; mkdir -p $runs; pids=()
for game in pong breakout; do
  a2c-train env=$game env.backend=envpool vec_env=async torch_threads=1 progress=plain \
    log_interval_s=60 \
    hydra.run.dir=$runs/$game > $runs/$game.out 2>&1 & pids+=($!)
done
while ((SECONDS < deadline - 20)) && kill -0 "${pids[@]}" 2>/dev/null; do sleep 5; done
for p in "${pids[@]}"; do kill -0 $p 2>/dev/null && kill -TERM $p; done
wait "${pids[@]}"
for game in pong breakout; do
  echo "== $game"; grep -E "device=auto|eval at|summary|error" $runs/$game/train.log | tail -12
  python3 -c "import json,sys; m=json.load(open(sys.argv[1])); print({k: m.get(k) for k in ('status','total_timesteps','final_eval_mean_return','sps','peak_rss_mb','device')})" $runs/$game/metrics.json
done
tar czf "$out/pixel_runs.tgz" -C $runs --exclude='*.pt' . 2>/dev/null
