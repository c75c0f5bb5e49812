package io.longnet.gpu;

import java.util.Locale;

/** What the GPU kernels compute in; chosen by the system property {@value #PROPERTY}. */
public enum Precision {
    /** bf16 q, k, v on tensor cores, fp32 softmax and accumulation: relative error about 1e-3..1e-2. */
    BF16("bf16", 2),
    /** fp32 throughout on CUDA cores: the CPU engine's precision (relative error below 1e-5). */
    FP32("f32", 4);

    /** The system property that chooses the precision ({@code bf16}, the default, or {@code fp32}). */
    public static final String PROPERTY = "longnet.gpu.precision";

    private final String kernelSuffix;
    private final int threadsPerRow;

    Precision(String kernelSuffix, int threadsPerRow) {
        this.kernelSuffix = kernelSuffix;
        this.threadsPerRow = threadsPerRow;
    }

    /**
     * Threads per CTA for head width {@code d}, as in kernel_traits.h: the bf16 kernel runs 16 MMA warps at
     * d = 64 (8 otherwise) and one producer warp that loads the key tiles.
     */
    public int threads(int d) {
        return rowThreads(d) + (this == BF16 ? 32 : 0);
    }

    /** Query rows per CTA for head width {@code d}: 16 per MMA warp (bf16) or 4 lanes per row (fp32). */
    public int tileRows(int d) {
        return rowThreads(d) / threadsPerRow;
    }

    /** The threads that hold query rows: all of the fp32 kernel's, the bf16 kernel's MMA warps. */
    private int rowThreads(int d) {
        return this == FP32 ? 128 : d == 64 ? 512 : 256;
    }

    /** Key tiles in flight in the bf16 kernel's shared-memory ring (MmaTraits' STAGES). */
    static final int KEY_TILE_STAGES = 3;
    /** Keys per tile in the bf16 kernel (MmaTraits' BLOCK_N). */
    static final int KEY_TILE_ROWS = 64;

    /**
     * Dynamic shared memory of a CTA for head width {@code d}: MmaTraits' Q tile and the stages of K and V
     * tiles, rows of {@code d + 8} halves (the mma.sync layout; the wgmma layout fits in it); the fp32
     * kernel's tiles are static.
     */
    public int sharedBytes(int d) {
        return this == BF16 ? (tileRows(d) + 2 * KEY_TILE_STAGES * KEY_TILE_ROWS) * (d + 8) * 2 : 0;
    }

    /** The kernel entry for head width {@code d}, as instantiated in dilated_fwd_launch.cu. */
    public String kernelName(int d) {
        return "dilated_fwd_" + kernelSuffix + "_d" + d;
    }

    /** {@code bf16} or {@code fp32}, any case. */
    public static Precision parse(String name) {
        for (Precision p : values()) {
            if (p.name().equalsIgnoreCase(name)) {
                return p;
            }
        }
        throw new IllegalArgumentException("precision '" + name + "': expected bf16 or fp32");
    }

    /** The precision {@code -D}{@value #PROPERTY} names, {@link #BF16} when it is unset. */
    public static Precision configured() {
        String name = System.getProperty(PROPERTY);
        if (name == null) {
            return BF16;
        }
        try {
            return parse(name);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("-D" + PROPERTY + "=" + name + ": expected bf16 or fp32", e);
        }
    }

    /** The lower-case spelling users write. */
    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
