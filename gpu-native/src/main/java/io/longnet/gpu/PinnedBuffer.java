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
final class PinnedBuffer extends NativeBuffer {

    private final Pointer ptr = new Pointer();
    private final FloatBuffer floats;

    PinnedBuffer(long bytes) {
        super(bytes);
        check(JCudaDriver.cuMemAllocHost(ptr, Math.max(4, bytes)), "cuMemAllocHost(" + bytes + " bytes)");
        this.floats = ptr.getByteBuffer(0, Math.max(4, bytes)).order(ByteOrder.nativeOrder()).asFloatBuffer();
    }

    Pointer pointer() {
        return ptr;
    }

    /** The memory as floats (position 0, capacity bytes / 4). */
    FloatBuffer floats() {
        return floats.duplicate().clear();
    }

    @Override
    void free() {
        check(JCudaDriver.cuMemFreeHost(ptr), "cuMemFreeHost");
    }
}
