package io.longnet.attention;

/**
 * A backend other modules contribute through {@link java.util.ServiceLoader} (the GPU kernel of
 * {@code gpu-native} registers one in {@code META-INF/services}).
 */
public interface AttentionKernelProvider extends BackendProvider {

    /** Opens a kernel on device {@code device} (an ordinal; ignored by backends without devices). */
    AttentionKernel open(int device);
}
