package io.longnet.gpu;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.attention.Tensors;
import java.nio.FloatBuffer;
import java.util.SplittableRandom;
import jcuda.driver.JCudaDriver;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * cuBLAS through JavaCPP on memory JCuda allocated (the shared primary context): {@code y (+)= x w^T} against
 * float64 on the same inputs (bf16-rounded for the bf16 mode, so both bounds are tight).
 */
@Tag("gpu")
@EnabledIf(value = "gpuAvailable", disabledReason = "no usable CUDA device (or cuBLAS 13) here; the GPU tests run"
        + " on a GPU machine through gpu-native/scripts/device-run.sh")
class CublasGemmTest {

    static boolean gpuAvailable() {
        return DeviceDecoderTest.gpuAvailable();
    }

    @ParameterizedTest(name = "{0} x {1} x {2} {3} accumulate={4}")
    @CsvSource({
        "1000, 96, 200, FP32, false", "1000, 96, 200, BF16, false", "777, 256, 768, BF16, true",
        "1, 64, 50000, FP32, true", "4097, 1024, 256, FP32, true",
    })
    void matchesFloat64(int rows, int in, int out, Precision p, boolean accumulate) {
        SplittableRandom rnd = new SplittableRandom(rows * 31L + in);
        float[] x = Tensors.random(rnd, rows * in, 1.0);
        float[] w = Tensors.random(rnd, out * in, 1.0);
        float[] y0 = Tensors.random(rnd, rows * out, 1.0);
        if (p == Precision.BF16) {
            roundToBf16(x);
            roundToBf16(w);
        }
        double[] want = new double[rows * out];
        for (int r = 0; r < rows; r++) {
            for (int o = 0; o < out; o++) {
                double s = accumulate ? y0[r * out + o] : 0;
                for (int k = 0; k < in; k++) {
                    s += (double) x[r * in + k] * w[o * in + k];
                }
                want[r * out + o] = s;
            }
        }
        CudaDevice device = CudaDevices.pool().device(0);
        ModelKernels kernels = new ModelKernels(device);
        long es = p == Precision.BF16 ? 2 : 4;
        float[] got = new float[rows * out];
        try (CublasGemm gemm = new CublasGemm(device);
             DeviceBuffer dx32 = upload(x);
             DeviceBuffer dw32 = upload(w);
             DeviceBuffer dx = new DeviceBuffer(es * x.length);
             DeviceBuffer dw = new DeviceBuffer(es * w.length);
             DeviceBuffer dy = upload(y0)) {
            long xa = dx32.address();
            long wa = dw32.address();
            if (p == Precision.BF16) {
                kernels.toBf16(dx32.address(), dx.address(), x.length);
                kernels.toBf16(dw32.address(), dw.address(), w.length);
                xa = dx.address();
                wa = dw.address();
            }
            gemm.linear(p, xa, wa, dy.address(), rows, in, out, accumulate);
            CudaException.check(JCudaDriver.cuCtxSynchronize(), "cuCtxSynchronize");
            dy.download(FloatBuffer.wrap(got));
        }
        double e = Tensors.relativeError(got, want);
        System.out.printf("gemm %d x %d x %d %s accumulate=%s: %.2e%n", rows, in, out, p, accumulate, e);
        assertTrue(e < 1e-5, "relative error " + e);
    }

    private static DeviceBuffer upload(float[] a) {
        DeviceBuffer b = new DeviceBuffer(4L * a.length);
        b.upload(FloatBuffer.wrap(a));
        return b;
    }

    /** Round to nearest even bf16, as __float2bfloat16_rn (finite inputs). */
    static void roundToBf16(float[] a) {
        for (int i = 0; i < a.length; i++) {
            int bits = Float.floatToRawIntBits(a[i]);
            bits += 0x7FFF + ((bits >>> 16) & 1);
            a[i] = Float.intBitsToFloat(bits & 0xFFFF0000);
        }
    }
}
