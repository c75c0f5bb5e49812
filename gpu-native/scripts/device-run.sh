#!/usr/bin/env bash
# On a CUDA machine, with the kit of stage-device-kit.sh in $LONGNET_KIT (default .device, from the
# repository root): the GPU test suite (JUnit console launcher), the attention benchmark with the chip's
# dense-attention ceiling (torch-dense-attention.py), and the model
# benchmark (cuBLAS products against torch.matmul in the same call, the device-resident decoder). Logs go
# to $OUT (or /tmp/longnet-device).
#   gpu-native/scripts/device-run.sh [tests|bench|model|all] [bench args...]
set -uo pipefail
what="${1:-all}"; shift || true
kit="${LONGNET_KIT:-.device}"
out="${OUT:-/tmp/longnet-device}"; mkdir -p "$out"
java="$kit/jre/bin/java"
cp=$(ls "$kit"/lib/*.jar | tr '\n' ':')
# cuBLAS 13 (JavaCPP) loads the CUDA 13 toolkit's libraries from the library path.
for lib in /usr/local/cuda*/targets/x86_64-linux/lib /usr/local/cuda*/lib64; do
  [[ -e "$lib/libcublas.so.13" ]] && export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" && break
done
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
status=0
if [[ "$what" == all || "$what" == tests ]]; then
  "$java" -Xmx32g -jar "$kit"/junit/junit-platform-console-standalone-*.jar execute --class-path "$cp" \
    --select-package io.longnet.gpu --details=tree --disable-banner 2>&1 | tee "$out/tests.log" | tail -n 60
  status=${PIPESTATUS[0]}
fi
if [[ "$what" == all || "$what" == bench ]]; then
  "$java" -Xmx8g -cp "$cp" io.longnet.gpu.GpuAttentionBench "$@" 2>&1 | tee "$out/bench.log"
  status=$(( status | PIPESTATUS[0] ))
  # The chip's dense ceiling in the same call, and each row above as a fraction of it.
  PYTHONUNBUFFERED=1 python3 "$(dirname "$0")/torch-dense-attention.py" "$out/bench.log" 2>&1 | tee "$out/dense.log"
  status=$(( status | PIPESTATUS[0] ))
fi
if [[ "$what" == all || "$what" == model ]]; then
  "$java" -Xmx24g -cp "$cp" io.longnet.gpu.GpuModelBench "$@" 2>&1 | tee "$out/model-bench.log"
  status=$(( status | PIPESTATUS[0] ))
  PYTHONUNBUFFERED=1 python3 "$(dirname "$0")/torch-gemm-bench.py" "$@" 2>&1 | tee "$out/torch-gemm.log"
  status=$(( status | PIPESTATUS[0] ))
fi
exit $status
