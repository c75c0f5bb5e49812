#!/usr/bin/env bash
# On a CUDA machine without Java: `bin/longnet attend --backend gpu` through Spark (embedded local master)
# against `--backend cpu` on the same input. Needs the parts that stage-device-spark.sh puts in
# .device/spark1..4 (a jlink'ed runtime and a pruned Spark classpath; carried over consecutive calls).
#   gpu-native/scripts/device-spark-run.sh [N]      (config A, causal, L = 8192: two spanning branches)
set -euo pipefail
n="${1:-65536}"
out="${OUT:-/tmp/longnet-device}"; mkdir -p "$out"
for p in 1 2 3 4; do [[ -d .device/spark$p ]] || { echo "missing .device/spark$p: stage all four parts" >&2; exit 2; }; done
tar -C /tmp -xJf .device/spark1/jre.tar.xz
export JAVA_HOME=/tmp/sparkjre
# Lay the staged jars out as a build would, so that bin/longnet runs unchanged.
mkdir -p spark-jobs/target
cp .device/spark4/spark-jobs-*-shaded.jar spark-jobs/target/
while read -r jar; do for p in 1 2 3 4; do [[ -f .device/spark$p/$jar ]] && echo ".device/spark$p/$jar"; done; done \
  < .device/spark4/classpath-order.txt | paste -sd: - > spark-jobs/target/spark-classpath.txt
cp_all="spark-jobs/target/$(ls spark-jobs/target | grep shaded):$(cat spark-jobs/target/spark-classpath.txt)"
"$JAVA_HOME/bin/java" -cp "$cp_all" io.longnet.datasets.SyntheticQkv /tmp/qkv.safetensors "$n" 12 64 F16 7
args=(attend --qkv /tmp/qkv.safetensors --branches 2048:1,4096:2,8192:4,16384:6,32768:12 --partition-length 8192
      --causal --master 'local[8]')
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$out/gpu.txt"
LONGNET_JAVA_OPTS=-Xmx24g bin/longnet "${args[@]}" --backend gpu --out /tmp/o-gpu-bf16.safetensors 2>&1 | tee "$out/attend-gpu-bf16.log" | grep -v "partitions,"
LONGNET_JAVA_OPTS="-Xmx24g -Dlongnet.gpu.precision=fp32" bin/longnet "${args[@]}" --backend gpu \
  --out /tmp/o-gpu-fp32.safetensors 2>&1 | tee "$out/attend-gpu-fp32.log" | grep -v "partitions,"
LONGNET_JAVA_OPTS=-Xmx24g bin/longnet "${args[@]}" --backend cpu --out /tmp/o-cpu.safetensors 2>&1 \
  | tee "$out/attend-cpu.log" | grep -v "partitions,"
python3 - <<'PY' | tee "$out/compare.txt"
import numpy as np
from safetensors.numpy import load_file
cpu = load_file('/tmp/o-cpu.safetensors')
for name, bound in (('gpu-bf16', 1e-2), ('gpu-fp32', 1e-5)):
    gpu = load_file(f'/tmp/o-{name}.safetensors')
    for t in ('o', 'lse'):
        a, b = cpu[t].astype(np.float64), gpu[t].astype(np.float64)
        err = np.abs(a - b).max() / np.abs(a).max()
        print(f'{name} vs cpu, {t} {list(b.shape)}: relative error {err:.2e} (bound {bound:g}):',
              'OK' if err < bound and np.isfinite(b).all() else 'FAIL')
PY
! grep -q FAIL "$out/compare.txt"
