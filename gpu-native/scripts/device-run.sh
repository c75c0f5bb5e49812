#!/usr/bin/env bash
# On a CUDA machine, from the repository root with the kit of stage-device-kit.sh in .device/: the GPU
# test suite (JUnit console launcher), then the GPU benchmark. Logs go to $OUT (or /tmp/longnet-device).
#   gpu-native/scripts/device-run.sh [tests|bench|all] [bench args...]
set -uo pipefail
what="${1:-all}"; shift || true
kit=.device
out="${OUT:-/tmp/longnet-device}"; mkdir -p "$out"
java="$kit/jre/bin/java"
cp=$(ls "$kit"/lib/*.jar | tr '\n' ':')
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
fi
exit $status
