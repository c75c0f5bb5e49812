package io.longnet.gpu;

import java.nio.Buffer;
import jcuda.Pointer;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

/**
 * A direct buffer's memory page-locked for the device while open (cuMemHostRegister), so that copies to and
 * from it run as DMA at the bus's speed instead of through the driver's pageable staging. Works for the
 * memory-mapped rows of a file too (pinning faults them in, in the kernel, in one pass). Where the driver
 * refuses (some file systems, old drivers), {@link #of} returns null and copies stay pageable: slower, same
 * bytes.
 */
final class HostRegistration implements AutoCloseable {

    /** {@code -Dlongnet.gpu.register=false} turns registration off, for measuring what it gains. */
    static final boolean ENABLED = Boolean.parseBoolean(System.getProperty("longnet.gpu.register", "true"));

    private final Pointer pointer;

    private HostRegistration(Pointer pointer) {
        this.pointer = pointer;
    }

    /**
     * Registers the {@code bytes} from {@code buffer}'s position (a direct buffer), read-only for the device
     * when {@code readOnly} (required for read-only mappings); null when not direct, disabled or refused.
     */
    static HostRegistration of(Buffer buffer, long bytes, boolean readOnly) {
        if (!ENABLED || !buffer.isDirect() || bytes == 0) {
            return null;
        }
        Pointer p = Pointer.to(buffer.slice());
        int flags = readOnly ? JCudaDriver.CU_MEMHOSTREGISTER_READ_ONLY : 0;
        return JCudaDriver.cuMemHostRegister(p, bytes, flags) == CUresult.CUDA_SUCCESS ? new HostRegistration(p) : null;
    }

    @Override
    public void close() {
        // Unregistering what was registered cannot fail but for a destroyed context, which has released it.
        JCudaDriver.cuMemHostUnregister(pointer);
    }
}
