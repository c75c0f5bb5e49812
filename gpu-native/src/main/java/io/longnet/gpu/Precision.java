package io.longnet.gpu;

/** What the GPU kernels compute in. */
public enum Precision {
    /** bf16 q, k, v on tensor cores, fp32 softmax and accumulation: relative error about 1e-3..1e-2. */
    BF16("bf16", 128, 256),
    /** fp32 throughout on CUDA cores: the CPU engine's precision (relative error below 1e-5). */
    FP32("f32", 32, 128);

    private final String kernelSuffix;
    private final int blockRows;
    private final int threads;

    Precision(String kernelSuffix, int blockRows, int threads) {
        this.kernelSuffix = kernelSuffix;
        this.blockRows = blockRows;
        this.threads = threads;
    }

    /** Query rows per CTA, as in kernel_traits.h. */
    public int blockRows() {
        return blockRows;
    }

    /** Threads per CTA, as in kernel_traits.h. */
    public int threads() {
        return threads;
    }

    /**
     * Dynamic shared memory of a CTA for head width {@code d}: MmaTraits' Q tile and two stages of K and
     * V tiles, rows of {@code d + 8} halves; the fp32 kernel's tiles are static.
     */
    public int sharedBytes(int d) {
        return this == BF16 ? (blockRows + 4 * 64) * (d + 8) * 2 : 0;
    }

    /** The kernel entry for head width {@code d}, as instantiated in dilated_fwd_launch.cu. */
    public String kernelName(int d) {
        return "dilated_fwd_" + kernelSuffix + "_d" + d;
    }

    public static Precision parse(String name) {
        for (Precision p : values()) {
            if (p.name().equalsIgnoreCase(name)) {
                return p;
            }
        }
        throw new IllegalArgumentException("precision '" + name + "': expected bf16 or fp32");
    }
}
