package io.longnet.gpu;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Native resources (streams, device and pinned buffers) held by one owner, released in the reverse order
 * of their acquisition. An owner that acquires several builds them through one of these, so that a failed
 * acquisition releases the ones before it instead of leaking them.
 */
final class NativeResources implements AutoCloseable {

    private final Deque<AutoCloseable> held = new ArrayDeque<>();

    /** Takes ownership of {@code resource} (released before everything added earlier); returns it. */
    <T extends AutoCloseable> T add(T resource) {
        held.push(resource);
        return resource;
    }

    /** As {@link #add}, for a resource that may be absent (null): then there is nothing to release. */
    <T extends AutoCloseable> T addIfPresent(T resource) {
        return resource == null ? null : add(resource);
    }

    /** Hands {@code resource} over to the caller: this no longer releases it. Returns it. */
    <T extends AutoCloseable> T disown(T resource) {
        held.removeFirstOccurrence(resource);
        return resource;
    }

    /**
     * Releases everything still held, last acquired first. Every resource is released even when one
     * release fails; the first failure is rethrown with the later ones suppressed. A second close
     * releases nothing.
     */
    @Override
    public void close() {
        RuntimeException failure = null;
        while (!held.isEmpty()) {
            try {
                held.pop().close();
            } catch (Exception e) {
                RuntimeException wrapped = e instanceof RuntimeException r ? r : new IllegalStateException(e);
                if (failure == null) {
                    failure = wrapped;
                } else {
                    failure.addSuppressed(wrapped);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    /**
     * Releases everything held after {@code failure} (an acquisition or setup that threw), recording
     * release failures as suppressed by it; returns {@code failure} for the caller to rethrow.
     */
    <T extends Throwable> T closeAfter(T failure) {
        try {
            close();
        } catch (RuntimeException e) {
            failure.addSuppressed(e);
        }
        return failure;
    }
}
