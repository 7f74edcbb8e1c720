#!/bin/bash
# Everything a GPU session measures, in one device call (GPU time is short).
# Here:     ../shared/gpu/prepare_wheels.sh          (puts the wheels into .whl/)
# There:    bash benchmarks/gpu_check.sh [SECONDS]   (device tool: carry [".whl"])
# In SECONDS (default 540) it: starts the learning runs (lunar_discrete device=cuda seeds 0-4
# and lunar_continuous seed 0, side by side) and the GPU tests; pauses the learning runs for
# the cpu-vs-cuda table of README "Speed" (benchmarks/bench_scaling.py: 8/64/256/1024 envs,
# gymnasium sync and EnvPool async, the envs alone for the fractions, device=auto's choice);
# resumes them and stops them (gracefully: checkpoint + metrics.json) at the deadline.
# Prints each learning run's status, evaluations and peak RSS. Logs go to $OUT when set.
set -uo pipefail
deadline=$((SECONDS + ${1:-540}))
out=${OUT:-/tmp/gpu_check_out}; mkdir -p "$out"
exec > >(tee "$out/gpu_check.log") 2>&1
source .whl/setup.sh || exit 1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
runs=/tmp/learn; rm -rf $runs; mkdir -p $runs; pids=()
for s in 0 1 2 3 4; do
  a2c-train env=lunar_discrete device=cuda seed=$s progress=none hydra.run.dir=$runs/discrete_$s \
    > $runs/discrete_$s.out 2>&1 & pids+=($!)
done
a2c-train env=lunar_continuous device=cuda seed=0 progress=none hydra.run.dir=$runs/continuous_0 \
  > $runs/continuous_0.out 2>&1 & pids+=($!)
echo "== GPU tests (learning runs in the background) $(date +%T)"
timeout 240 python3 -m pytest -q -p no:cacheprovider tests/test_gpu.py tests/test_graph_backend.py 2>&1 | tail -15
echo "== learning runs paused for the table $(date +%T)"
kill -STOP "${pids[@]}" 2>/dev/null
timeout $((deadline - SECONDS - 150)) python3 benchmarks/bench_scaling.py --num-envs 8 64 256 1024 \
  --steps 100000 --backends "gymnasium sync" "envpool async" --learners auto graph 2>&1 | grep -v Warn
if ((deadline - SECONDS > 260)); then  # torch.compile inside the graphs, where it is cheapest to try
  timeout 120 python3 benchmarks/bench_scaling.py --num-envs 8 --steps 100000 \
    --backends "gymnasium sync" --learners compiled 2>&1 | grep -E "^\| gym.*compiled|warm-up"
fi
echo "== learning runs resumed $(date +%T)"
kill -CONT "${pids[@]}" 2>/dev/null
while ((SECONDS < deadline - 25)) && kill -0 "${pids[@]}" 2>/dev/null; do sleep 5; done
for p in "${pids[@]}"; do kill -0 $p 2>/dev/null && kill -TERM $p; done
wait "${pids[@]}"
echo "== learning runs $(date +%T)"
for d in $runs/*/; do
  python3 - "$d" <<'PY'
import json, re, sys
from pathlib import Path
d = Path(sys.argv[1]); m = json.loads((d / "metrics.json").read_text()) if (d / "metrics.json").is_file() else {}
evals = re.findall(r"eval at step (\d+): mean return (-?[\d.]+)", (d / "train.log").read_text()) if (d / "train.log").is_file() else []
print(d.name, {k: m.get(k) for k in ("status", "total_timesteps", "final_eval_mean_return", "solved", "sps", "peak_rss_mb", "device")},
      "evals:", " ".join(f"{int(s)//1000}k:{float(r):.0f}" for s, r in evals))
PY
done
tar czf "$out/learning_runs.tgz" -C $runs --exclude='*.pt' . 2>/dev/null
