package io.longnet.gpu;

import java.util.Locale;

/** What the GPU kernels compute in; chosen by the system property {@value #PROPERTY}. */
public enum Precision {
    /** bf16 q, k, v on tensor cores, fp32 softmax and accumulation: relative error about 1e-3..1e-2. */
    BF16("bf16"),
    /** fp32 throughout on CUDA cores: the CPU engine's precision (relative error below 1e-5). */
    FP32("f32");

    /** The system property that chooses the precision ({@code bf16}, the default, or {@code fp32}). */
    public static final String PROPERTY = "longnet.gpu.precision";

    private final String kernelSuffix;

    Precision(String kernelSuffix) {
        this.kernelSuffix = kernelSuffix;
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
