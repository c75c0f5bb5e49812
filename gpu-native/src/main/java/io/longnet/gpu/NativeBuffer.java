package io.longnet.gpu;

/**
 * Native memory of a fixed size, freed on the first close: a second close does nothing, so an owner that
 * releases its buffers on every path (a failed setup, then close) never frees one twice.
 */
abstract class NativeBuffer implements AutoCloseable {

    private final long bytes;
    private boolean freed;

    NativeBuffer(long bytes) {
        this.bytes = bytes;
    }

    final long bytes() {
        return bytes;
    }

    /** Frees the memory; called at most once. */
    abstract void free();

    @Override
    public final void close() {
        if (freed) {
            return;
        }
        freed = true;  // also when the free fails: freeing the same pointer again is never right
        free();
    }
}
