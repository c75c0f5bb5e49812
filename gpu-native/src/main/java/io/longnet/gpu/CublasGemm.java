package io.longnet.gpu;

import static org.bytedeco.cuda.global.cublas.CUBLAS_COMPUTE_32F;
import static org.bytedeco.cuda.global.cublas.CUBLAS_GEMM_DEFAULT;
import static org.bytedeco.cuda.global.cublas.CUBLAS_OP_N;
import static org.bytedeco.cuda.global.cublas.CUBLAS_OP_T;
import static org.bytedeco.cuda.global.cublas.CUBLAS_STATUS_SUCCESS;
import static org.bytedeco.cuda.global.cudart.CUDA_R_16BF;
import static org.bytedeco.cuda.global.cudart.CUDA_R_32F;

import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.cuda.global.cublas;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;

/**
 * Row-major linear layers {@code y[rows][out] (+)= x[rows][in] . w[out][in]^T} through cuBLAS 13 (JavaCPP's
 * presets; JCuda's binding links cuBLAS 12), on the device's primary context, which the JCuda launcher
 * shares, so both see the same device memory (docs/ARCHITECTURE.md §5). bf16 inputs with fp32 accumulation
 * and output on tensor cores, or fp32 throughout (no TF32). Work goes to the default stream, in order with
 * the JCuda launches.
 */
final class CublasGemm implements AutoCloseable {

    private static String unavailable;
    private static boolean probed;

    private final cublasContext handle = new cublasContext();
    private final FloatPointer one;
    private final FloatPointer zero;

    /** A handle in {@code device}'s context (made current on the calling thread). */
    CublasGemm(CudaDevice device) {
        String reason = unavailableReason();  // also loads the natives JavaCPP's pointers need
        if (reason != null) {
            throw new IllegalStateException(reason);
        }
        device.makeCurrent();
        check(cublas.cublasCreate_v2(handle), "cublasCreate");
        one = new FloatPointer(1f);
        zero = new FloatPointer(0f);
    }

    /**
     * Why cuBLAS 13 cannot be used here, or null. Loading the presets loads libcublas.so.13 and
     * libcudart.so.13 from the library path: the CUDA 13 toolkit's lib folder must be on it.
     */
    static synchronized String unavailableReason() {
        if (!probed) {
            probed = true;
            try {
                Loader.load(cublas.class);
            } catch (Throwable e) {  // UnsatisfiedLinkError, or NoClassDefFoundError after a first failure
                unavailable = "cuBLAS 13 not loadable (libcublas.so.13 on LD_LIBRARY_PATH?): " + e;
            }
        }
        return unavailable;
    }

    /**
     * Queues {@code y = x w^T} ({@code accumulate}: {@code y += x w^T}) for device addresses of row-major
     * {@code x [rows][in]} and {@code w [out][in]} in {@code precision}'s input type and {@code y [rows][out]}
     * in fp32.
     */
    void linear(Precision precision, long x, long w, long y, int rows, int in, int out, boolean accumulate) {
        linear(precision, x, w, y, Precision.FP32, rows, in, out, accumulate);
    }

    /**
     * As {@link #linear(Precision, long, long, long, int, int, int, boolean)} with {@code y} in {@code yType}:
     * bf16 where the next kernel reads only bf16, halving the bytes written and read back.
     */
    void linear(Precision precision, long x, long w, long y, Precision yType, int rows, int in, int out,
                boolean accumulate) {
        int type = precision == Precision.BF16 ? CUDA_R_16BF : CUDA_R_32F;
        int outType = yType == Precision.BF16 ? CUDA_R_16BF : CUDA_R_32F;
        // Column-major, y^T [out][rows] = w [out][in] . x^T: w as stored is w^T column-major, hence op T.
        check(cublas.cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, out, rows, in, one, device(w), type, in,
                device(x), type, in, accumulate ? one : zero, device(y), outType, out, CUBLAS_COMPUTE_32F,
                CUBLAS_GEMM_DEFAULT), "cublasGemmEx(" + rows + " x " + in + " x " + out + ", " + precision + " to "
                + yType + ")");
    }

    /** A JavaCPP view of a device address (JavaCPP only passes it on; it never reads or frees it). */
    private static Pointer device(long deviceAddress) {
        return new Pointer() {
            {
                address = deviceAddress;  // Pointer's protected field
            }
        };
    }

    private static void check(int status, String call) {
        if (status != CUBLAS_STATUS_SUCCESS) {
            throw new CudaException(call + ": " + cublas.cublasGetStatusString(status).getString());
        }
    }

    @Override
    public void close() {
        try {
            check(cublas.cublasDestroy_v2(handle), "cublasDestroy");
        } finally {
            one.close();
            zero.close();
        }
    }
}
