package io.longnet.attention;

/**
 * What {@link Backend#usableGpu} asks of a provider that other modules contribute through
 * {@link java.util.ServiceLoader}: the attention kernel's and the whole decoder's providers alike.
 */
public interface BackendProvider {

    /** The backend users select it by, e.g. {@link Backend#GPU}. */
    Backend backend();

    /** Why it cannot run here, or {@code null} when it can (e.g. "no CUDA device"). */
    String unavailableReason();
}
