#!/usr/bin/env bash
# On a CUDA machine without Java, from the repository root: the longnet CLI through Spark (embedded local
# master) on the runtime that stage-device-spark.sh staged (.device/spark1.tar, ...; unpacked here by
# device-spark-unpack.sh, which this runs first).
#   device-spark-run.sh attend [N]       attend --backend gpu (bf16, fp32) against cpu on config A, causal,
#                                        L = 8192 (two spanning branches); N positions (default 65536)
#   device-spark-run.sh score-bench N    bench model (d_model 256, 4 layers, 4 heads of 64), seed 1; a
#                                        synthetic corpus of about N bytes tokenized as one sequence
#                                        (--concat); each stage's wall time
#   device-spark-run.sh score-paper N    the same with the paper's backbone (d_model 768, 12 layers, 12 heads,
#                                        branches up to 32768:12)
#   device-spark-run.sh attend-speed [N] [causal|non-causal|both]
#                                        attend --backend gpu file to file, config A, F16 input, L chosen for
#                                        the GPU (default N = 1048576, both); before it the disk's own speed
#                                        (dd: the input read back cached and O_DIRECT, a write of the output's
#                                        size with fdatasync); each job's time breakdown
#   device-spark-run.sh synthetic [N,...] [L]
#                                        bench attend --synthetic: the paper's scaling configuration
#                                        (2048:1,L:L/2048,N:N/2048, H=12, d=64, bf16), causal and not, inputs made
#                                        and results reduced on the GPU, sampled rows verified against float64
#                                        (the stage fails above 1e-2); default N = 2^24,2^26,2^28,2^30, L = 2^21
#   device-spark-run.sh billion [corpus|tokenize|score|all]
#                                        score-bench's stages on 2^30 bytes (BILLION_BYTES), one stage per call
#                                        if need be: outputs stay in LONGNET_SCRATCH between calls
# Environment: BACKEND (gpu; cpu for a check without a GPU), MASTER (local[16]), HEAP (96g), EXTRA_JAVA_OPTS,
# LONGNET_SCRATCH (/tmp/longnet-scratch: data, Spark's spill and shuffle files), OUT (logs; default
# LONGNET_SCRATCH/logs), LONGNET_SPARK_HOME (where the parts are unpacked; default /tmp/longnet-spark).
set -euo pipefail
cd "$(dirname "$0")/../.."
mode="${1:-attend}"; shift || true
[[ "$mode" =~ ^[0-9]+$ ]] && set -- "$mode" && mode=attend   # the former usage: device-spark-run.sh N
backend="${BACKEND:-gpu}"
master="${MASTER:-local[16]}"
scratch="${LONGNET_SCRATCH:-/tmp/longnet-scratch}"
out="${OUT:-$scratch/logs}"
mkdir -p "$scratch" "$out"
bash gpu-native/scripts/device-spark-unpack.sh
export JAVA_HOME="${LONGNET_SPARK_HOME:-/tmp/longnet-spark}/jre"
# Spark's scratch (spill, shuffle, cached blocks on disk) on the scratch disk; SparkConf reads spark.* system
# properties, which bin/longnet passes through LONGNET_JAVA_OPTS.
export LONGNET_JAVA_OPTS="-Xmx${HEAP:-96g} -Dspark.local.dir=$scratch/spark-local ${EXTRA_JAVA_OPTS:-}"
# cuBLAS 13 (JavaCPP) loads the CUDA 13 toolkit's libraries from the library path.
for lib in /usr/local/cuda*/targets/x86_64-linux/lib /usr/local/cuda*/lib64; do
  [[ -e "$lib/libcublas.so.13" ]] && export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" && break
done
if [[ "$backend" == gpu ]] && command -v nvidia-smi > /dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
fi
df -h "$scratch" | tail -n 1 | awk '{print "scratch '"$scratch"': " $4 " free of " $2}'

# Runs one stage, its output in $out/NAME.log; prints its wall time (and peak memory under /usr/bin/time).
stage() {
  local name="$1"; shift
  local start end status=0
  start=$(date +%s.%N)
  if [[ -x /usr/bin/time ]]; then
    /usr/bin/time -v -o "$out/$name.time" "$@" > "$out/$name.log" 2>&1 || status=$?
  else
    "$@" > "$out/$name.log" 2>&1 || status=$?
  fi
  end=$(date +%s.%N)
  grep -vE '^\s|^$| WARN |^\[' "$out/$name.log" | tail -n 3 | sed "s/^/  $name: /" || true
  local rss=""
  [[ -f "$out/$name.time" ]] && rss=$(awk -F': ' '/Maximum resident/ {printf ", peak RSS %.1f GiB", $2 / 1048576}' "$out/$name.time")
  printf '%s: %.1f s wall%s%s\n' "$name" "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" "$rss" \
    "$( ((status)) && echo ", FAILED (exit $status; $out/$name.log)")" | tee -a "$out/times.txt"
  return "$status"
}

bytes() { find "$1" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }'; }

# A synthetic corpus of about $2 bytes in $1: documents of at most 1 MiB, so that tokenize reads in parallel.
corpus() {
  local dir="$1" bytes="$2"
  local docs=$(( (bytes + 1048575) / 1048576 ))
  rm -rf "$dir"
  stage corpus bin/longnet synth-corpus --out "$dir" --documents "$docs" --bytes $(( (bytes + docs - 1) / docs ))
  echo "  corpus: $(bytes "$dir") bytes in $docs file(s)"
}

tokenize() {
  stage tokenize bin/longnet tokenize --corpus "$1" --out "$2" --concat --overwrite --master "$master"
  echo "  tokens: $(bytes "$2") bytes on disk"
}

model() {
  local dir="$1" config="$2"
  printf '%s\n' "$config" > "$dir.json"
  rm -rf "$dir"
  stage init-model bin/longnet init-model --config "$dir.json" --out "$dir" --seed 1
}

score() {
  stage "score-$backend" bin/longnet score --tokens "$1" --model "$2" --out "$3" --backend "$backend" \
    --master "$master" --overwrite
}

BENCH='{"vocab_size": 258, "d_model": 256, "heads": 4, "layers": 4, "ffn_dim": 1024, "branches": "256:1,512:2,1024:4", "causal": true}'
PAPER='{"vocab_size": 258, "d_model": 768, "heads": 12, "layers": 12, "ffn_dim": 3072, "branches": "2048:1,4096:2,8192:4,16384:6,32768:12", "causal": true}'

case "$mode" in
  score-bench|score-paper)
    n="${1:?usage: device-spark-run.sh $mode N (bytes of corpus)}"
    config=$BENCH; [[ "$mode" == score-paper ]] && config=$PAPER
    d="$scratch/$mode-$n"
    mkdir -p "$d"
    corpus "$d/corpus" "$n"
    tokenize "$d/corpus" "$d/tokens"
    model "$d/model" "$config"
    score "$d/tokens" "$d/model" "$d/score"
    ;;
  billion)
    what="${1:-all}"
    d="$scratch/billion"
    mkdir -p "$d"
    case "$what" in
      corpus|all) corpus "$d/corpus" "${BILLION_BYTES:-1073741824}" ;;&
      tokenize|all)
        [[ -d "$d/corpus" ]] || { echo "device-spark-run: no corpus in $d: run 'billion corpus' first" >&2; exit 2; }
        tokenize "$d/corpus" "$d/tokens" ;;&
      score|all)
        [[ -d "$d/tokens" ]] || { echo "device-spark-run: no tokens in $d: run 'billion tokenize' first" >&2; exit 2; }
        [[ -f "$d/model/config.json" ]] || model "$d/model" "$BENCH"
        score "$d/tokens" "$d/model" "$d/score" ;;
      corpus|tokenize|score|all) ;;
      *) echo "device-spark-run: billion takes corpus, tokenize, score or all (got $what)" >&2; exit 2 ;;
    esac
    ;;
  synthetic)
    ns="${1:-16777216,67108864,268435456,1073741824}"
    stage "synthetic-$backend" bin/longnet bench attend --synthetic --tokens "$ns" --partition-length "${2:-2097152}" \
      --backend "$backend" --master "$master"
    grep -E '^ +[0-9]+ +(true|false) |^  (N=|sample)|^bench' "$out/synthetic-$backend.log" || true
    ;;
  attend-speed)
    n="${1:-1048576}"
    which="${2:-both}"
    shaded=$(ls spark-jobs/target/spark-jobs-*-shaded.jar)
    qkv="$scratch/qkv-$n.safetensors"
    if [[ ! -f "$qkv" ]]; then
      rm -f "$scratch"/qkv-*.safetensors "$scratch"/o-speed*.safetensors
      stage "synth-qkv-$n" "$JAVA_HOME/bin/java" -Xmx8g -cp "$shaded:$(cat spark-jobs/target/spark-classpath.txt)" \
        io.longnet.datasets.SyntheticQkv "$qkv" "$n" 12 64 F16 7
    fi
    in_bytes=$(stat -c %s "$qkv")
    out_bytes=$(( n * 12 * 64 * 4 + n * 12 * 4 ))
    echo "disk: input $in_bytes bytes, output $out_bytes bytes"
    dd if="$qkv" of=/dev/null bs=16M 2>&1 | tail -n 1 | sed 's/^/  read, cached: /'
    dd if="$qkv" of=/dev/null bs=16M iflag=direct 2>&1 | tail -n 1 | sed 's/^/  read, O_DIRECT: /'
    dd if=/dev/zero of="$scratch/dd.bin" bs=16M count=$(( (out_bytes + 16777215) / 16777216 )) 2>&1 | tail -n 1 \
      | sed 's/^/  write, no sync: /'
    rm -f "$scratch/dd.bin"
    dd if=/dev/zero of="$scratch/dd.bin" bs=16M count=$(( (out_bytes + 16777215) / 16777216 )) conv=fdatasync 2>&1 \
      | tail -n 1 | sed 's/^/  write, fdatasync: /'
    rm -f "$scratch/dd.bin"
    modes=(non-causal causal); [[ "$which" != both ]] && modes=("$which")
    for m in "${modes[@]}"; do
      flag=(); [[ "$m" == causal ]] && flag=(--causal)
      rm -f "$scratch/o-speed.safetensors"
      stage "attend-speed-$n-$m" bin/longnet attend --qkv "$qkv" --out "$scratch/o-speed.safetensors" \
        --branches 2048:1,4096:2,8192:4,16384:6,32768:12 "${flag[@]}" --backend gpu --master "$master" --overwrite \
        || true
      grep -E '^(plan|data path|time|task time|done)|^  (stage|[a-z])' "$out/attend-speed-$n-$m.log" | sed 's/^/    /' || true
    done
    rm -f "$scratch/o-speed.safetensors"
    ;;
  attend)
    n="${1:-65536}"
    shaded=$(ls spark-jobs/target/spark-jobs-*-shaded.jar)
    "$JAVA_HOME/bin/java" -cp "$shaded:$(cat spark-jobs/target/spark-classpath.txt)" io.longnet.datasets.SyntheticQkv \
      "$scratch/qkv.safetensors" "$n" 12 64 F16 7
    args=(attend --qkv "$scratch/qkv.safetensors" --branches 2048:1,4096:2,8192:4,16384:6,32768:12
          --partition-length 8192 --causal --master "$master" --overwrite)
    if [[ "$backend" == gpu ]]; then
      stage attend-gpu-bf16 bin/longnet "${args[@]}" --backend gpu --out "$scratch/o-gpu-bf16.safetensors"
      LONGNET_JAVA_OPTS="$LONGNET_JAVA_OPTS -Dlongnet.gpu.precision=fp32" \
        stage attend-gpu-fp32 bin/longnet "${args[@]}" --backend gpu --out "$scratch/o-gpu-fp32.safetensors"
    fi
    stage attend-cpu bin/longnet "${args[@]}" --backend cpu --out "$scratch/o-cpu.safetensors"
    [[ "$backend" == gpu ]] || exit 0
    SCRATCH="$scratch" python3 - <<'PY' | tee "$out/compare.txt"
import os
import numpy as np
from safetensors.numpy import load_file
s = os.environ['SCRATCH']
cpu = load_file(f'{s}/o-cpu.safetensors')
for name, bound in (('gpu-bf16', 1e-2), ('gpu-fp32', 1e-5)):
    gpu = load_file(f'{s}/o-{name}.safetensors')
    for t in ('o', 'lse'):
        a, b = cpu[t].astype(np.float64), gpu[t].astype(np.float64)
        err = np.abs(a - b).max() / np.abs(a).max()
        print(f'{name} vs cpu, {t} {list(b.shape)}: relative error {err:.2e} (bound {bound:g}):',
              'OK' if err < bound and np.isfinite(b).all() else 'FAIL')
PY
    ! grep -q FAIL "$out/compare.txt"
    ;;
  *)
    echo "device-spark-run: mode attend [N], attend-speed [N], synthetic [N,...] [L], score-bench N, score-paper N or billion [corpus|tokenize|score|all] (got $mode)" >&2
    exit 2
    ;;
esac
