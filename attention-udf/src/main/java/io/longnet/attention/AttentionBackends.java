package io.longnet.attention;

import java.util.ServiceLoader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Chooses the kernel for {@code --backend auto|cpu|gpu}: {@code cpu} is built in; {@code gpu} is found
 * through {@link ServiceLoader}; {@code auto} takes the GPU when one is usable and the CPU otherwise,
 * and logs which and why.
 */
public final class AttentionBackends {

    private static final Logger LOG = LoggerFactory.getLogger(AttentionBackends.class);

    private AttentionBackends() {
    }

    /** Checks a backend name as the CLI and the ML params accept it. */
    public static String validate(String name) {
        if (!name.equals("auto") && !name.equals("cpu") && !name.equals("gpu")) {
            throw new IllegalArgumentException("backend '" + name + "': expected auto, cpu or gpu");
        }
        return name;
    }

    /**
     * Opens the backend {@code name} with {@code threads} CPU threads, or on GPU {@code device} (-1 when
     * the scheduler assigned none).
     */
    public static AttentionKernel open(String name, int threads, int device) {
        validate(name);
        if (name.equals("cpu")) {
            return new CpuAttentionKernel(threads);
        }
        String reason = "no GPU backend on the classpath";
        for (AttentionKernelProvider provider : ServiceLoader.load(AttentionKernelProvider.class)) {
            if (provider.name().equals("gpu")) {
                reason = device < 0 ? "no GPU assigned to this task" : provider.unavailableReason();
                if (reason == null) {
                    LOG.debug("attention backend: gpu (device {})", device);
                    return provider.open(device);
                }
            }
        }
        if (name.equals("gpu")) {
            throw new IllegalArgumentException("backend gpu: " + reason);
        }
        LOG.debug("attention backend: cpu, {} thread(s) ({})", threads, reason);
        return new CpuAttentionKernel(threads);
    }
}
