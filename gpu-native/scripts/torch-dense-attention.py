"""The chip's dense-attention ceiling, measured beside GpuAttentionBench in the same call (device-run.sh bench).

PyTorch's scaled_dot_product_attention on cuDNN (and on FlashAttention-2, for reference), bf16, at the head
widths and head counts of the bench's configs (A: H=12, d=64; B: H=4, d=32), causal and not; TFLOP/s count
4 N^2 H d (half of it causal). Given the bench's log, prints each of its rows as a fraction of cuDNN's
figure at the same d and causality (docs/BENCHMARKS.md, "GPU kernels").
    python3 torch-dense-attention.py [bench.log]
"""
import re
import sys

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

CONFIGS = {"A": (12, 64, 32768), "B": (4, 32, 65536)}  # heads, head width, dense N


def dense_tflops(heads, d, n, causal, backend):
    q = torch.randn(1, heads, n, d, device="cuda", dtype=torch.bfloat16)
    k, v = torch.randn_like(q), torch.randn_like(q)
    attend = torch.nn.functional.scaled_dot_product_attention
    with sdpa_kernel([backend]):
        for _ in range(3):
            attend(q, k, v, is_causal=causal)
        torch.cuda.synchronize()
        times = []
        for _ in range(10):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            attend(q, k, v, is_causal=causal)
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
    ms = sorted(times)[len(times) // 2]
    return ms, 4.0 * n * n * heads * d * (0.5 if causal else 1.0) / ms / 1e9


def main():
    print(f"device: {torch.cuda.get_device_name()}; dense bf16 attention, torch {torch.__version__}, median of 10")
    print(f"{'config':>6} {'N':>8} {'causal':>7} {'backend':>16} {'ms':>9} {'TFLOP/s':>8}")
    ceiling = {}
    for name, (heads, d, n) in CONFIGS.items():
        for causal in (False, True):
            for backend in (SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION):
                ms, tflops = dense_tflops(heads, d, n, causal, backend)
                print(f"{name:>6} {n:>8} {str(causal).lower():>7} {backend.name:>16} {ms:>9.3f} {tflops:>8.1f}")
                if backend == SDPBackend.CUDNN_ATTENTION:
                    ceiling[(name, causal)] = tflops
    if len(sys.argv) > 1:
        print("ours as a fraction of cuDNN's dense TFLOP/s (same head width, heads and causality):")
        row = re.compile(r"^\s*([AB])\s+(\d+)\s+(true|false)\s+([\d.]+)\s+(\d+)\s+([\d.]+)\s*$")
        with open(sys.argv[1]) as log:
            for line in log:
                m = row.match(line)
                if m:
                    name, n, causal, ms, tflops = m.group(1), m.group(2), m.group(3) == "true", m.group(4), float(m.group(6))
                    dense = ceiling[(name, causal)]
                    print(f"{name:>6} {n:>8} {str(causal).lower():>7} {ms:>9} ms {tflops:>7.1f} / {dense:.1f} = {tflops / dense:.1%}")


if __name__ == "__main__":
    main()
