package io.longnet.gpu;

import static io.longnet.gpu.CudaException.check;

import io.longnet.attention.Branch;
import io.longnet.attention.HeadOffset;
import io.longnet.model.LongNetConfig;
import io.longnet.model.LongNetModel;
import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;
import jcuda.driver.JCudaDriver;

/**
 * The GPU model's pieces at scale. (1) The linear layers of the bench model (d_model 256, FFN 1024) and of
 * the paper's backbone (d_model 768, FFN 3072) over {@code N} rows, plus one LM-head block, through cuBLAS
 * on random device data (bf16 and fp32), timed with CUDA events: 3 warm-up runs, median of {@code reps};
 * scripts/torch-gemm-bench.py times torch.matmul on the same shapes. (2) {@link DeviceDecoder} on the bench
 * model (4 layers, 4 heads, branches 256:1,512:2,1024:4, causal, sub-LN) at {@code N} tokens:
 * {@code nextTokenLogProbs} (tokens in, log-probs out, allocation included) on the host clock, 1 warm-up,
 * median of 3; then one profiled call, its time by phase ({@link PhaseTimer}); and {@code hiddenStates}
 * after the last layer (its {@code [N][256]} fp32 copy to a new Java array included).
 *
 * <pre>java -cp ... io.longnet.gpu.GpuModelBench [reps] [N] [vocab,vocab..] [bench|paper]</pre>
 * ({@code paper}: the decoder part on the paper's backbone, d_model 768, 12 layers of 12 heads, FFN 3072,
 * branches 2048:1,4096:2,8192:4,16384:6,32768:12)
 */
public final class GpuModelBench {

    private GpuModelBench() {
    }

    public static void main(String[] args) {
        int reps = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        int n = args.length > 1 ? Integer.parseInt(args[1]) : 1 << 20;
        int[] vocabs = Arrays.stream((args.length > 2 ? args[2] : "258,50000").split(",")).mapToInt(Integer::parseInt)
                .toArray();
        CudaDevice device = CudaDevices.pool().device(0);
        System.out.printf(Locale.ROOT, "device: %s; y = x w^T, x [N][in], w [out][in]; bf16: bf16 in and out,"
                + " bf16>32: bf16 in, fp32 out; median of %d%n",
                device.name(), reps);
        System.out.printf(Locale.ROOT, "%-16s %8s %6s %6s %7s %10s %9s%n", "product", "rows", "in", "out", "type", "ms",
                "TFLOP/s");
        Object[][] shapes = {
            {"bench qkv", n, 256, 768}, {"bench out_proj", n, 256, 256}, {"bench fc1", n, 256, 1024},
            {"bench fc2", n, 1024, 256}, {"bench lm block", 16384, 256, 16384},
            {"paper qkv", n, 768, 2304}, {"paper out_proj", n, 768, 768}, {"paper fc1", n, 768, 3072},
            {"paper fc2", n, 3072, 768},
        };
        try (CublasGemm gemm = new CublasGemm(device)) {
            for (Precision p : new Precision[] {Precision.BF16, Precision.FP32}) {
                for (Object[] s : shapes) {
                    gemm(device, gemm, p, (String) s[0], (int) s[1], (int) s[2], (int) s[3], reps);
                }
            }
        }
        boolean paper = args.length > 3 && args[3].equals("paper");
        LongNetConfig shape = paper
                ? new LongNetConfig(258, 768, 12, 12, 3072, Branch.parseList("2048:1,4096:2,8192:4,16384:6,32768:12"),
                        true, true, 512, 1e-5, HeadOffset.PAPER)
                : new LongNetConfig(258, 256, 4, 4, 1024, Branch.parseList("256:1,512:2,1024:4"), true, true, 512, 1e-5,
                        HeadOffset.PAPER);
        System.out.printf(Locale.ROOT, "%ndecoder: %s model, N = %d, %d layers, d_model %d, %d heads, FFN %d, %s,"
                + " causal, sub-LN; host clock, median of 3%n", paper ? "paper" : "bench", n, shape.layers(),
                shape.dModel(), shape.heads(), shape.ffnDim(), shape.branches());
        System.out.printf(Locale.ROOT, "%7s %6s %12s %14s %12s   %s%n", "vocab", "type", "log-probs ms", "tokens/s",
                "hidden ms", "profiled log-probs call, ms by phase: " + Arrays.toString(PhaseTimer.Phase.values()));
        for (int vocab : vocabs) {
            LongNetConfig config = new LongNetConfig(vocab, shape.dModel(), shape.heads(), shape.layers(),
                    shape.ffnDim(), shape.branches(), true, true, 512, 1e-5, HeadOffset.PAPER);
            LongNetModel model = LongNetModel.initialize(config, 42);
            int[] tokens = new SplittableRandom(42).ints(n, 0, vocab).toArray();
            for (Precision p : new Precision[] {Precision.BF16, Precision.FP32}) {
                try (DeviceDecoder decoder = new DeviceDecoder(model, 0, p)) {
                    double all = median(() -> decoder.nextTokenLogProbs(tokens));
                    double[] phases = decoder.profileLogProbs(tokens);
                    double hidden = median(() -> decoder.hiddenStates(tokens, config.layers()));
                    StringBuilder split = new StringBuilder();
                    for (double ms : phases) {
                        split.append(String.format(Locale.ROOT, " %7.1f", ms));
                    }
                    System.out.printf(Locale.ROOT, "%7d %6s %12.1f %14.0f %12.1f  %s%n", vocab, p, all,
                            (n - 1) / (all / 1e3), hidden, split);
                }
            }
        }
    }

    private static double median(Runnable run) {
        run.run();
        double[] ms = new double[3];
        for (int i = 0; i < ms.length; i++) {
            long t0 = System.nanoTime();
            run.run();
            ms[i] = (System.nanoTime() - t0) / 1e6;
        }
        Arrays.sort(ms);
        return ms[1];
    }

    private static void gemm(CudaDevice device, CublasGemm gemm, Precision p, String name, int rows, int in, int out,
                             int reps) {
        ModelKernels kernels = new ModelKernels(device);
        long es = p == Precision.BF16 ? 2 : 4;
        long xs = (long) rows * in;
        long ws = (long) out * in;
        try (DeviceBuffer x32 = new DeviceBuffer(4 * xs);
             DeviceBuffer w32 = new DeviceBuffer(4 * ws);
             DeviceBuffer x = p == Precision.BF16 ? new DeviceBuffer(es * xs) : null;
             DeviceBuffer w = p == Precision.BF16 ? new DeviceBuffer(es * ws) : null;
             DeviceBuffer y = new DeviceBuffer(4L * rows * out)) {
            // Random data (uniform, std 1/sqrt(3)): zeros would run faster than real inputs.
            kernels.fillUniform(x32.address(), xs, 1, 1f);
            kernels.fillUniform(w32.address(), ws, 2, 1f);
            long xa = x32.address();
            long wa = w32.address();
            if (x != null) {
                kernels.toBf16(xa, x.address(), xs);
                kernels.toBf16(wa, w.address(), ws);
                xa = x.address();
                wa = w.address();
            }
            check(JCudaDriver.cuCtxSynchronize(), "cuCtxSynchronize (inputs)");
            // bf16 inputs: bf16 output (torch.matmul's "bf16") and fp32 output ("bf16>32"), as the decoder uses both.
            Precision[] outputs = p == Precision.BF16 ? new Precision[] {Precision.BF16, Precision.FP32}
                    : new Precision[] {Precision.FP32};
            for (Precision yType : outputs) {
                float[] ms = new float[reps];
                for (int i = -3; i < reps; i++) {
                    try (PhaseTimer timer = new PhaseTimer()) {
                        gemm.linear(p, xa, wa, y.address(), yType, rows, in, out, false);
                        timer.lap(PhaseTimer.Phase.GEMM);
                        double t = timer.millis()[PhaseTimer.Phase.GEMM.ordinal()];
                        if (i >= 0) {
                            ms[i] = (float) t;
                        }
                    }
                }
                Arrays.sort(ms);
                double median = reps % 2 == 1 ? ms[reps / 2] : (ms[reps / 2 - 1] + ms[reps / 2]) / 2.0;
                String label = p == Precision.FP32 ? "fp32" : yType == Precision.BF16 ? "bf16" : "bf16>32";
                System.out.printf(Locale.ROOT, "%-16s %8d %6d %6d %7s %10.3f %9.1f%n", name, rows, in, out, label,
                        median, 2.0 * rows * in * out / (median / 1e3) / 1e12);
            }
        }
    }
}
