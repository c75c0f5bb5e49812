package io.longnet.gpu;

import static io.longnet.gpu.CudaException.check;

import jcuda.Pointer;
import jcuda.driver.JCudaDriver;

/**
 * The launch side of model_launch.cu: one method per kernel family, its arguments packed here and nowhere
 * else, queued on the default stream (in order with cuBLAS). Shapes as model_traits.h: row kernels give a
 * warp to a row, 8 rows a CTA; elementwise kernels stride over the grid. Arguments are device addresses,
 * so that callers can pass offsets into a buffer.
 */
final class ModelKernels {

    /** RowTraits::WARPS and THREADS. */
    static final int ROWS_PER_CTA = 8;
    static final int ROW_THREADS = ROWS_PER_CTA * 32;
    /** ElementwiseTraits::THREADS and MAX_BLOCKS. */
    static final int THREADS = 256;
    static final int MAX_BLOCKS = 1 << 20;

    private final CudaDevice device;

    ModelKernels(CudaDevice device) {
        this.device = device;
    }

    /** {@code x[p] = table[tokens[p]]}, {@code n} rows of {@code d}. */
    void embedGather(long tokens, long table, long x, long n, int d) {
        perRow("embed_gather", n, ptr(tokens), ptr(table), ptr(x), i64(n), i32(d));
    }

    /** LayerNorm of {@code rows} rows of {@code width}; output bf16 or fp32 by {@code out}. */
    void layerNorm(Precision out, long x, long gamma, long beta, long y, long rows, int width, double eps) {
        rows(out == Precision.BF16 ? "layer_norm_bf16" : "layer_norm_f32", rows, ptr(x), ptr(gamma), ptr(beta), ptr(y),
                i64(rows), i32(width), Pointer.to(new double[] {eps}));
    }

    /**
     * {@code y = gelu(f + bias)}: for the fp32 model ({@code in} FP32) exact, erf in double, fp32 to fp32;
     * for the bf16 model the product's bf16 output in, float math, {@code out}'s type out.
     */
    void biasGelu(Precision in, Precision out, long f, long bias, long y, long rows, int width) {
        String kernel = in == Precision.FP32 ? "bias_gelu_f32" : out == Precision.BF16 ? "bias_gelu_bf16"
                : "bias_gelu_bf16_f32";
        perRow(kernel, rows, ptr(f), ptr(bias), ptr(y), i64(rows), i32(width));
    }

    /**
     * The fused projection {@code qkv [n][3 width]} plus its bias into the attention inputs q, k, v, with
     * xPos on q and k for positions {@code first .. first + n} of {@code total}; {@code qkv} and the outputs in
     * {@code out}'s type (the bf16 model's product writes bf16).
     */
    void qkvXpos(Precision out, long qkv, long bias, long q, long k, long v, long n, int heads, int half,
                 long logScale, long invFreq, long window, long total, long minPos, int scaleBase, long first) {
        elementwise(out == Precision.BF16 ? "qkv_xpos_bf16" : "qkv_xpos_f32", n * half, ptr(qkv), ptr(bias), ptr(q),
                ptr(k), ptr(v), i64(n), i32(heads), i32(half), ptr(logScale), ptr(invFreq), i64(window), i64(total),
                i64(minPos), i32(scaleBase), i64(first));
    }

    /** {@code x[r][c] += bias[c]}. */
    void addBias(long x, long bias, long rows, int width) {
        perRow("add_bias", rows, ptr(x), ptr(bias), i64(rows), i32(width));
    }

    /** Merges logits {@code [rows][cols]} of vocabulary columns {@code col0 ..} into each row's running lse. */
    void lseUpdate(boolean exact, long logits, long rows, int cols, int col0, long targets, long max, long sum,
                   long targetLogit) {
        rows(exact ? "lse_update_f32" : "lse_update_bf16", rows, ptr(logits), i64(rows), i32(cols), i32(col0),
                ptr(targets), ptr(max), ptr(sum), ptr(targetLogit));
    }

    /** {@code lp = target logit - lse} for {@code rows} rows. */
    void lseFinish(long max, long sum, long targetLogit, long lp, long rows) {
        elementwise("lse_finish", rows, ptr(max), ptr(sum), ptr(targetLogit), ptr(lp), i64(rows));
    }

    /** fp32 to bf16, {@code n} elements. */
    void toBf16(long in, long out, long n) {
        elementwise("f32_to_bf16", n, ptr(in), ptr(out), i64(n));
    }

    /** Uniform values in {@code (-scale, scale)} from a counter hash (benchmarks; tests use host data). */
    void fillUniform(long out, long n, long seed, float scale) {
        elementwise("fill_uniform_f32", n, ptr(out), i64(n), i64(seed), Pointer.to(new float[] {scale}));
    }

    private void rows(String kernel, long rows, Pointer... args) {
        long blocks = (rows + ROWS_PER_CTA - 1) / ROWS_PER_CTA;
        if (blocks > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(kernel + ": " + rows + " rows exceed one launch");
        }
        launch(kernel, (int) Math.max(1, blocks), ROW_THREADS, args);
    }

    /**
     * The bf16 model's {@code y = LayerNorm(gelu(f + bias))} with f and y bf16 (y may be f), the activated
     * row kept in shared memory: rows of at most {@link #MAX_FUSED_WIDTH}.
     */
    void biasGeluLayerNorm(long f, long bias, long gamma, long beta, long y, long rows, int width, double eps) {
        if (width > MAX_FUSED_WIDTH) {
            throw new IllegalArgumentException("fused GELU + LayerNorm over rows of " + width + " > " + MAX_FUSED_WIDTH);
        }
        launch("bias_gelu_layer_norm_bf16", (int) Math.max(1, Math.min(MAX_BLOCKS, rows)), THREADS, 4 * width,
                ptr(f), ptr(bias), ptr(gamma), ptr(beta), ptr(y), i64(rows), i32(width),
                Pointer.to(new float[] {(float) eps}));
    }

    /** Widest row {@link #biasGeluLayerNorm} keeps in (default-sized) shared memory. */
    static final int MAX_FUSED_WIDTH = 11 * 1024;

    /** A block per row, at most {@link #MAX_BLOCKS} blocks (the kernel strides over rows past that). */
    private void perRow(String kernel, long rows, Pointer... args) {
        launch(kernel, (int) Math.max(1, Math.min(MAX_BLOCKS, rows)), THREADS, args);
    }

    private void elementwise(String kernel, long work, Pointer... args) {
        launch(kernel, (int) Math.max(1, Math.min(MAX_BLOCKS, (work + THREADS - 1) / THREADS)), THREADS, args);
    }

    private void launch(String kernel, int blocks, int threads, Pointer... args) {
        launch(kernel, blocks, threads, 0, args);
    }

    private void launch(String kernel, int blocks, int threads, int sharedBytes, Pointer... args) {
        check(JCudaDriver.cuLaunchKernel(device.function(kernel, 0), blocks, 1, 1, threads, 1, 1, sharedBytes, null,
                Pointer.to(args), null), "cuLaunchKernel(" + kernel + ")");
    }

    private static Pointer ptr(long address) {
        return Pointer.to(new long[] {address});
    }

    private static Pointer i64(long v) {
        return Pointer.to(new long[] {v});
    }

    private static Pointer i32(int v) {
        return Pointer.to(new int[] {v});
    }
}
