#!/usr/bin/env bash
# Rebuilds the checked-in kernel artifacts from src/main/cuda with nvcc: sm_90a machine code (Hopper, with
# wgmma) plus compute_90 PTX (mma.sync; other chips compile it in the driver), one fatbin per launch file (dilated attention; the model's row
# kernels), loaded through cuModuleLoadData. Records the hash of the sources they were built from; KernelArtifactTest fails when the sources change without a rebuild.
# The Maven build itself needs no nvcc. Fails where ptxas serialises a kernel's wgmma groups
# (lib/wgmma-serialised.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/wgmma-serialised.sh
src=src/main/cuda
out=src/main/resources/io/longnet/gpu
for pair in dilated_attention:dilated_fwd_launch model_kernels:model_launch; do
  notes=$(nvcc -fatbin -O3 -std=c++17 \
    -gencode arch=compute_90a,code=sm_90a -gencode arch=compute_90,code=compute_90 \
    -o "$out/${pair%%:*}.fatbin" "$src/${pair#*:}.cu" 2>&1) || { printf '%s\n' "$notes" >&2; exit 1; }
  refuse_serialised_wgmma "$notes" "${pair#*:}.cu; the artifacts are not valid" || exit 1
done
# Hash: for each source file in name order, "<name>\n<content>", over all of them.
(cd "$src" && for f in $(ls | LC_ALL=C sort); do printf '%s\n' "$f"; cat "$f"; done) | sha256sum | cut -d' ' -f1 \
  > "$out/dilated_attention.sources.sha256"
echo "built $(cd "$out" && stat -c '%n (%s bytes)' *.fatbin | paste -sd' ') from $(cat "$out/dilated_attention.sources.sha256")"
