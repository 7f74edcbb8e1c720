#!/bin/bash
# What a GPU session measures, in two device calls (GPU time is short: about 15 minutes in
# all, a machine start included). Here, first:  ../shared/gpu/prepare_wheels.sh  (.whl/)
#   part 1 (<= 4 min):  bash benchmarks/gpu_check.sh 1     (device tool: carry [".whl"])
#       the GPU tests (per-test timeout, full log + JUnit XML), then a short cpu-vs-cuda
#       table, EnvPool rows first.   Fix what it finds, then:
#   part 2 (<= 9 min):  bash benchmarks/gpu_check.sh 2
#       the cuda learning runs (lunar_discrete seeds 0-4, lunar_continuous seed 0, side by
#       side), paused for the full table, then stopped gracefully at the deadline.
# An optional second argument overrides the part's seconds (defaults 210 and 500).
# Everything lands in $OUT (or /tmp/gpu_check_out), also when a step fails or times out.
# Without a GPU it is a CPU dry run of the same plumbing (.venv, device=cpu, small sizes):
#   bash benchmarks/gpu_check.sh 1 && bash benchmarks/gpu_check.sh 2
set -uo pipefail
part=${1:?usage: gpu_check.sh 1|2 [SECONDS]}
[[ $part == 1 || $part == 2 ]] || { echo "part must be 1 or 2" >&2; exit 2; }
budget=${2:-$([[ $part == 1 ]] && echo 210 || echo 500)}
deadline=$((SECONDS + budget))
left() { echo $((deadline - SECONDS)); }
out=${OUT:-/tmp/gpu_check_out}; mkdir -p "$out"
exec > >(tee "$out/part$part.log") 2>&1
cd "$(dirname "$0")/.."
if [[ -f .whl/setup.sh ]] && command -v nvidia-smi >/dev/null; then
  source .whl/setup.sh || { echo "setup.sh failed"; exit 1; }
elif [[ -x .venv/bin/python ]]; then
  export PATH=$PWD/.venv/bin:$PATH
fi
# The working tree ahead of the packed wheel: a fix made after packing is what runs.
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 SDL_VIDEODRIVER=dummy
if python3 -c "import torch, sys; sys.exit(not torch.cuda.is_available())" 2>/dev/null; then
  gpu=1; device=cuda; steps=100000; learn_steps=""
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
else
  gpu=0; device=cpu; steps=3000; learn_steps="total_timesteps=20000"
  echo "no CUDA GPU: a CPU dry run (device=cpu, small sizes) of the same steps"
fi
echo "== part $part, $budget s, $(date +%T), $(python3 -c 'import torch; print("torch", torch.__version__)')"

table() {  # table FILE SECONDS ARGS...: bench_scaling.py, bounded; cells are kept as they come
  local file=$1 seconds=$2; shift 2
  if ((seconds < 20)); then echo "(no time left for $file)"; return; fi
  timeout -k 5 "$seconds" python3 benchmarks/bench_scaling.py --steps "$steps" "$@" \
    2>&1 | grep -v -i warn | tee "$out/$file"
  echo "(table exit ${PIPESTATUS[0]})"
}

if [[ $part == 1 ]]; then
  echo "== GPU tests $(date +%T)"
  A2C_TEST_TIMEOUT=90 timeout -k 5 $(($(left) > 250 ? 150 : $(left) / 2)) \
    python3 -m pytest -q -p no:cacheprovider -rs --junitxml="$out/part1_tests.xml" \
    tests/test_gpu.py tests/test_graph_backend.py tests/test_cuda_graphs.py
  echo "(pytest exit $?)"
  echo "== short table $(date +%T)"
  table part1_table.md $(($(left) - 10)) --num-envs 256 8 --backends "envpool async" \
    "gymnasium sync" --learners auto graph
  echo "== part 1 done $(date +%T)"
  exit 0
fi

runs=/tmp/gpu_check_runs; rm -rf $runs; mkdir -p $runs; pids=()
start_run() {  # start_run NAME OVERRIDES...
  local name=$1; shift
  a2c-train "$@" device=$device progress=none plot=false $learn_steps hydra.run.dir=$runs/$name \
    > $runs/$name.out 2>&1 & pids+=($!)
}
for s in 0 1 2 3 4; do start_run discrete_$s env=lunar_discrete seed=$s; done
start_run continuous_0 env=lunar_continuous seed=0
echo "== learning runs started $(date +%T); paused for the full table"
sleep 20; kill -STOP "${pids[@]}" 2>/dev/null
table part2_table.md $(($(left) * 45 / 100)) --num-envs 1024 256 64 8 \
  --backends "envpool async" "gymnasium sync" --learners auto graph
if (($(left) > 200)); then  # torch.compile inside the graphs, in one cell
  table part2_compiled.md 90 --num-envs 256 --backends "envpool async" --learners compiled
fi
echo "== learning runs resumed $(date +%T)"
kill -CONT "${pids[@]}" 2>/dev/null
while (($(left) > 40)) && kill -0 "${pids[@]}" 2>/dev/null; do sleep 5; done
for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && kill -TERM "$p"; done
for _ in $(seq 30); do kill -0 "${pids[@]}" 2>/dev/null || break; sleep 1; done  # bounded
for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && { echo "killing $p"; kill -KILL "$p"; }; done
echo "== learning runs $(date +%T)"
for d in $runs/*/; do
  python3 - "$d" <<'PY'
import json, re, sys
from pathlib import Path
d = Path(sys.argv[1]); f = d / "metrics.json"
m = json.loads(f.read_text()) if f.is_file() else {}
log = d / "train.log"
evals = re.findall(r"eval at step (\d+): mean return (-?[\d.]+)", log.read_text()) if log.is_file() else []
keys = ("status", "total_timesteps", "final_eval_mean_return", "solved", "sps", "peak_rss_mb", "device")
print(d.name, {k: m.get(k) for k in keys},
      "evals:", " ".join(f"{int(s) // 1000}k:{float(r):.0f}" for s, r in evals))
PY
done | tee "$out/part2_runs.txt"
tar czf "$out/learning_runs.tgz" -C $runs --exclude='*.pt' . 2>/dev/null
echo "== part 2 done $(date +%T)"
