package io.longnet.gpu;

import static io.longnet.gpu.CudaException.check;

import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import jcuda.Pointer;
import jcuda.driver.JCudaDriver;

/**
 * Page-locked host memory (cuMemAllocHost), so that copies to and from the device run asynchronously;
 * freed on the first close (later closes do nothing).
 */
final class PinnedBuffer implements AutoCloseable {

    private final Pointer ptr = new Pointer();
    private final long bytes;
    private final FloatBuffer floats;
    private boolean closed;

    PinnedBuffer(long bytes) {
        this.bytes = bytes;
        check(JCudaDriver.cuMemAllocHost(ptr, Math.max(4, bytes)), "cuMemAllocHost(" + bytes + " bytes)");
        this.floats = ptr.getByteBuffer(0, Math.max(4, bytes)).order(ByteOrder.nativeOrder()).asFloatBuffer();
    }

    Pointer pointer() {
        return ptr;
    }

    long bytes() {
        return bytes;
    }

    /** The memory as floats (position 0, capacity bytes / 4). */
    FloatBuffer floats() {
        return floats.duplicate().clear();
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;  // also when the free fails: freeing the same pointer again is never right
        check(JCudaDriver.cuMemFreeHost(ptr), "cuMemFreeHost");
    }
}
