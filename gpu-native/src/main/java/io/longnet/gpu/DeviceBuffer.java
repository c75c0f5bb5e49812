package io.longnet.gpu;

import static io.longnet.gpu.CudaException.check;

import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;
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
        check(JCudaDriver.cuMemcpyHtoD(ptr, host(src), bytes()), "cuMemcpyHtoD");
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
        check(JCudaDriver.cuMemcpyDtoH(host(dst), ptr, count), "cuMemcpyDtoH");
    }

    /** Copies {@code count} bytes from byte {@code from} of this buffer into {@code dst} (element 0 at its position). */
    void download(Buffer dst, long from, long count) {
        if (from < 0 || count < 0 || from + count > bytes()) {
            throw new IndexOutOfBoundsException(count + " bytes at " + from + " of a buffer of " + bytes());
        }
        check(JCudaDriver.cuMemcpyDtoH(host(dst), ptr.withByteOffset(from), count), "cuMemcpyDtoH");
    }

    /**
     * A pointer to element 0 of {@code b} at its position. Heap buffers go as their array with a byte offset:
     * JCuda's pointer to a heap buffer ignores its array offset, so a slice of an array would point to the
     * array's start.
     */
    static Pointer host(Buffer b) {
        if (b.isDirect()) {
            return Pointer.to(b.slice());
        }
        long at = (long) b.arrayOffset() + b.position();
        if (b instanceof FloatBuffer f) {
            return Pointer.to(f.array()).withByteOffset(at * Float.BYTES);
        }
        if (b instanceof ShortBuffer s) {
            return Pointer.to(s.array()).withByteOffset(at * Short.BYTES);
        }
        if (b instanceof IntBuffer i) {
            return Pointer.to(i.array()).withByteOffset(at * Integer.BYTES);
        }
        if (b instanceof LongBuffer l) {
            return Pointer.to(l.array()).withByteOffset(at * Long.BYTES);
        }
        if (b instanceof DoubleBuffer d) {
            return Pointer.to(d.array()).withByteOffset(at * Double.BYTES);
        }
        if (b instanceof ByteBuffer y) {
            return Pointer.to(y.array()).withByteOffset(at);
        }
        throw new IllegalArgumentException("no host pointer for a heap " + b.getClass().getSimpleName());
    }

    void fill32(int bits, CUstream stream) {
        check(JCudaDriver.cuMemsetD32Async(ptr, bits, bytes() / 4, stream), "cuMemsetD32Async");
    }

    /**
     * Copies {@code src}'s remaining bytes in on {@code stream}: queued from direct memory (at the bus's speed
     * when it is pinned or registered), at once from the heap (after what the stream holds), whose arrays can
     * move.
     */
    void uploadAsync(Buffer src, CUstream stream) {
        long count = (long) src.remaining() * elementBytes(src);
        if (count > bytes()) {
            throw new IndexOutOfBoundsException(count + " bytes into a buffer of " + bytes());
        }
        if (src.isDirect()) {
            check(JCudaDriver.cuMemcpyHtoDAsync(ptr, host(src), count, stream), "cuMemcpyHtoDAsync");
        } else {
            check(JCudaDriver.cuStreamSynchronize(stream), "cuStreamSynchronize");
            check(JCudaDriver.cuMemcpyHtoD(ptr, host(src), count), "cuMemcpyHtoD");
        }
    }

    /**
     * Copies {@code dst.remaining()} elements' bytes out on {@code stream}, as {@link #uploadAsync}: queued
     * into direct memory, at once (after the stream's work) into the heap.
     */
    void downloadAsync(Buffer dst, CUstream stream) {
        long count = (long) dst.remaining() * elementBytes(dst);
        if (count > bytes()) {
            throw new IndexOutOfBoundsException(count + " bytes of a buffer of " + bytes());
        }
        if (dst.isDirect()) {
            check(JCudaDriver.cuMemcpyDtoHAsync(host(dst), ptr, count, stream), "cuMemcpyDtoHAsync");
        } else {
            check(JCudaDriver.cuStreamSynchronize(stream), "cuStreamSynchronize");
            check(JCudaDriver.cuMemcpyDtoH(host(dst), ptr, count), "cuMemcpyDtoH");
        }
    }

    private static int elementBytes(Buffer b) {
        if (b instanceof FloatBuffer || b instanceof IntBuffer) {
            return 4;
        }
        if (b instanceof ShortBuffer) {
            return 2;
        }
        if (b instanceof LongBuffer || b instanceof DoubleBuffer) {
            return 8;
        }
        if (b instanceof ByteBuffer) {
            return 1;
        }
        throw new IllegalArgumentException("no element size for " + b.getClass().getSimpleName());
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
