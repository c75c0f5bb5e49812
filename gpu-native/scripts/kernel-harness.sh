#!/usr/bin/env bash
# Builds the bf16 kernel's development harness (src/dev/cuda/kernel_harness.cu) with nvcc for sm_90a against
# the kernel's headers: src/main/cuda, or HEADERS (a copy carrying a variant's change). Then, on the GPU
# machine: OUT check, OUT host, OUT time, OUT a1 (docs/BENCHMARKS.md, the GPU kernel sections).
#   gpu-native/scripts/kernel-harness.sh OUT [HEADERS]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/lib/wgmma-serialised.sh"
out=${1:?usage: kernel-harness.sh OUT [HEADERS]}
headers=${2:-$here/src/main/cuda}
notes=$(nvcc -O3 -std=c++17 -gencode arch=compute_90a,code=sm_90a -I"$headers" -o "$out" \
  "$here/src/dev/cuda/kernel_harness.cu" 2>&1) || { printf '%s\n' "$notes" >&2; exit 1; }
refuse_serialised_wgmma "$notes" "the harness built from $headers" || { rm -f "$out"; exit 1; }
echo "built $out from $headers"
