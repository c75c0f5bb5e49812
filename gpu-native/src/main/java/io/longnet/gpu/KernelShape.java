package io.longnet.gpu;

/**
 * The launch shape of an attention kernel as the loaded module reports it (its {@code NAME_shape} symbol,
 * dilated_fwd_launch.cu): threads per CTA, query rows per CTA, dynamic shared memory. The module decides,
 * because the code the driver loads decides: sm_90a's machine code runs the warp-specialised kernel at
 * d = 64, the PTX other chips compile another (docs/ARCHITECTURE.md §5).
 */
public record KernelShape(int threads, int tileRows, int sharedBytes) {

    public KernelShape {
        if (threads <= 0 || threads % 32 != 0 || tileRows <= 0 || sharedBytes < 0) {
            throw new IllegalStateException("kernel module reports an invalid launch shape: " + threads
                    + " threads, " + tileRows + " rows, " + sharedBytes + " bytes of shared memory");
        }
    }

    /** The symbol holding kernel {@code kernel}'s shape. */
    static String symbol(String kernel) {
        return kernel + "_shape";
    }
}
