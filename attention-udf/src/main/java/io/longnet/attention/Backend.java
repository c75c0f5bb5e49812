package io.longnet.attention;

import java.util.Locale;
import java.util.Optional;
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
        Optional<AttentionKernelProvider> gpu = usableGpu(AttentionKernelProvider.class, device, "backend");
        if (gpu.isPresent()) {
            LOG.debug("attention backend: gpu (device {})", device);
            return gpu.get().open(device);
        }
        return new CpuAttentionKernel(threads);
    }

    /**
     * The provider of {@code type} that runs this backend on GPU {@code device}, or empty where the CPU runs:
     * always for {@code cpu}; for {@code auto} when no such provider can run here (logged with the reason).
     * The one place where {@code gpu}, {@code auto} and {@code cpu} are told apart, for every kind of
     * provider (the attention kernel, the whole decoder).
     *
     * @param what names the kind in the log and in the error, e.g. "backend" or "decoder"
     * @throws IllegalArgumentException for {@code gpu} when no provider can run, naming why
     */
    public <P extends BackendProvider> Optional<P> usableGpu(Class<P> type, int device, String what) {
        if (this == CPU) {
            return Optional.empty();
        }
        String reason = "no GPU " + what + " on the classpath";
        for (P provider : ServiceLoader.load(type)) {
            if (provider.backend() == GPU) {
                reason = device < 0 ? "no GPU assigned to this task" : provider.unavailableReason();
                if (reason == null) {
                    return Optional.of(provider);
                }
            }
        }
        if (this == GPU) {
            throw new IllegalArgumentException("backend gpu: " + reason);
        }
        LOG.debug("{}: cpu ({})", what, reason);
        return Optional.empty();
    }
}
