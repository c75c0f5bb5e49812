package io.longnet.gpu;

/** What the GPU kernels compute in. */
public enum Precision {
    /** bf16 q, k, v on tensor cores, fp32 softmax and accumulation: relative error about 1e-3..1e-2. */
    BF16("bf16", 64),
    /** fp32 throughout on CUDA cores: the CPU engine's precision (relative error below 1e-5). */
    FP32("f32", 32);

    private final String kernelSuffix;
    private final int blockRows;

    Precision(String kernelSuffix, int blockRows) {
        this.kernelSuffix = kernelSuffix;
        this.blockRows = blockRows;
    }

    /** Query rows per CTA, as in kernel_traits.h. */
    public int blockRows() {
        return blockRows;
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
