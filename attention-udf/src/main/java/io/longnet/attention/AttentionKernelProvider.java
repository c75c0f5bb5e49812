package io.longnet.attention;

/**
 * A backend other modules contribute through {@link java.util.ServiceLoader} (the GPU kernel of
 * {@code gpu-native} registers one in {@code META-INF/services}).
 */
public interface AttentionKernelProvider {

    /** The backend users select it by, e.g. {@link Backend#GPU}. */
    Backend backend();

    /** Why it cannot run here, or {@code null} when it can (e.g. "no CUDA device"). */
    String unavailableReason();

    /** Opens a kernel on device {@code device} (an ordinal; ignored by backends without devices). */
    AttentionKernel open(int device);
}
