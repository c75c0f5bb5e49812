package io.longnet.attention;

import java.util.Locale;
import java.util.ServiceLoader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which kernel computes attention ({@code --backend auto|cpu|gpu}, and the ML stages' {@code backend}
 * param): {@code cpu} is built in; {@code gpu} is found through {@link ServiceLoader}; {@code auto} takes
 * the GPU when one is usable and the CPU otherwise, and logs which and why.
 */
public enum Backend {
    AUTO, CPU, GPU;

    private static final Logger LOG = LoggerFactory.getLogger(Backend.class);

    /** {@code auto}, {@code cpu} or {@code gpu}, any case: the spellings the CLI and the ML params accept. */
    public static Backend parse(String name) {
        for (Backend b : values()) {
            if (b.toString().equalsIgnoreCase(name == null ? "" : name.strip())) {
                return b;
            }
        }
        throw new IllegalArgumentException("backend '" + name + "': expected auto, cpu or gpu");
    }

    /** The lower-case spelling users write and ML params persist. */
    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * Opens this backend with {@code threads} CPU threads, or on GPU {@code device} (-1 when the scheduler
     * assigned none).
     */
    public AttentionKernel open(int threads, int device) {
        if (this == CPU) {
            return new CpuAttentionKernel(threads);
        }
        String reason = "no GPU backend on the classpath";
        for (AttentionKernelProvider provider : ServiceLoader.load(AttentionKernelProvider.class)) {
            if (provider.backend() == GPU) {
                reason = device < 0 ? "no GPU assigned to this task" : provider.unavailableReason();
                if (reason == null) {
                    LOG.debug("attention backend: gpu (device {})", device);
                    return provider.open(device);
                }
            }
        }
        if (this == GPU) {
            throw new IllegalArgumentException("backend gpu: " + reason);
        }
        LOG.debug("attention backend: cpu, {} thread(s) ({})", threads, reason);
        return new CpuAttentionKernel(threads);
    }
}
