package io.longnet.gpu;

import static io.longnet.gpu.CudaException.check;

import java.nio.Buffer;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/** Device memory of a fixed size, freed on the first close (later closes do nothing). */
final class DeviceBuffer extends NativeBuffer {

    /** A device pointer whose address can be packed into a params struct. */
    private static final class Address extends CUdeviceptr {
        long value() {
            return getNativePointer();
        }
    }

    private final Address ptr = new Address();

    DeviceBuffer(long bytes) {
        super(bytes);
        check(JCudaDriver.cuMemAlloc(ptr, Math.max(1, bytes)), "cuMemAlloc(" + bytes + " bytes)");
    }

    CUdeviceptr pointer() {
        return ptr;
    }

    long address() {
        return ptr.value();
    }

    /** Copies {@code bytes()} from {@code src} (element 0 at its position). */
    void upload(Buffer src) {
        check(JCudaDriver.cuMemcpyHtoD(ptr, Pointer.to(src.slice()), bytes()), "cuMemcpyHtoD");
    }

    /** Copies {@code src} to elements {@code at ..} of this buffer of ints. */
    void upload(int[] src, long at) {
        long count = 4L * src.length;
        if (at < 0 || 4 * at + count > bytes()) {
            throw new IndexOutOfBoundsException(src.length + " ints at " + at + " in a buffer of " + bytes() + " bytes");
        }
        check(JCudaDriver.cuMemcpyHtoD(ptr.withByteOffset(4 * at), Pointer.to(src), count), "cuMemcpyHtoD");
    }

    /** Copies {@code bytes()} into {@code dst} (element 0 at its position). */
    void download(Buffer dst) {
        download(dst, bytes());
    }

    /** Copies the first {@code count} bytes into {@code dst} (element 0 at its position). */
    void download(Buffer dst, long count) {
        if (count < 0 || count > bytes()) {
            throw new IndexOutOfBoundsException(count + " bytes of a buffer of " + bytes());
        }
        check(JCudaDriver.cuMemcpyDtoH(Pointer.to(dst.slice()), ptr, count), "cuMemcpyDtoH");
    }

    void fill32(int bits, CUstream stream) {
        check(JCudaDriver.cuMemsetD32Async(ptr, bits, bytes() / 4, stream), "cuMemsetD32Async");
    }

    /** Queues a copy of the first {@code count} bytes from pinned host memory on {@code stream}. */
    void uploadAsync(PinnedBuffer src, long count, CUstream stream) {
        check(JCudaDriver.cuMemcpyHtoDAsync(ptr, src.pointer(), count, stream), "cuMemcpyHtoDAsync");
    }

    /** Queues a copy of the first {@code count} bytes to pinned host memory on {@code stream}. */
    void downloadAsync(PinnedBuffer dst, long count, CUstream stream) {
        check(JCudaDriver.cuMemcpyDtoHAsync(dst.pointer(), ptr, count, stream), "cuMemcpyDtoHAsync");
    }

    @Override
    void free() {
        check(JCudaDriver.cuMemFree(ptr), "cuMemFree");
    }
}
