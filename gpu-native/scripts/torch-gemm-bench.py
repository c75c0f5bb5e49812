#!/usr/bin/env python3
"""torch.matmul on the shapes GpuModelBench gives cuBLAS (y = x @ w.T, x [N, in], w [out, in]), bf16 and
fp32 (TF32 off), random inputs, CUDA events: 3 warm-up runs, median of REPS. Same call, same device."""
import sys
import torch

reps = int(sys.argv[1]) if len(sys.argv) > 1 else 10
n = int(sys.argv[2]) if len(sys.argv) > 2 else 1 << 20
torch.backends.cuda.matmul.allow_tf32 = False
shapes = [("bench qkv", n, 256, 768), ("bench out_proj", n, 256, 256), ("bench fc1", n, 256, 1024),
          ("bench fc2", n, 1024, 256), ("bench lm block", 16384, 256, 16384),
          ("paper qkv", n, 768, 2304), ("paper out_proj", n, 768, 768), ("paper fc1", n, 768, 3072),
          ("paper fc2", n, 3072, 768)]
print(f"device: {torch.cuda.get_device_name()}; torch {torch.__version__}; torch.matmul(x, w.t()); median of {reps}")
print(f"{'product':16s} {'rows':>8s} {'in':>6s} {'out':>6s} {'type':>6s} {'ms':>10s} {'TFLOP/s':>9s}")
for dtype, label in ((torch.bfloat16, "bf16"), (torch.float32, "fp32")):
    for name, rows, k, out in shapes:
        x = torch.rand(rows, k, device="cuda", dtype=dtype) * 2 - 1
        w = torch.rand(out, k, device="cuda", dtype=dtype) * 2 - 1
        runs = [(label, lambda: torch.matmul(x, w.t()))]
        if dtype == torch.bfloat16:  # fp32 output, as the cuBLAS path writes: torch.mm's out_dtype where it has one
            try:
                torch.mm(x[:8], w.t(), out_dtype=torch.float32)
                runs.append(("bf16>32", lambda: torch.mm(x, w.t(), out_dtype=torch.float32)))
            except (TypeError, RuntimeError):
                pass
        for tag, run in runs:
            times = []
            for i in range(reps + 3):
                a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                a.record()
                y = run()
                b.record()
                torch.cuda.synchronize()
                if i >= 3:
                    times.append(a.elapsed_time(b))
                del y
            times.sort()
            m = len(times) // 2
            ms = times[m] if len(times) % 2 else (times[m - 1] + times[m]) / 2
            print(f"{name:16s} {rows:8d} {k:6d} {out:6d} {tag:>7s} {ms:10.3f} {2 * rows * k * out / ms / 1e9:9.1f}")
        del x, w
        torch.cuda.empty_cache()
