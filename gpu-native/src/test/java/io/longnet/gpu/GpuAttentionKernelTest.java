package io.longnet.gpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.attention.AttentionResult;
import io.longnet.attention.Branch;
import io.longnet.attention.BruteForceReference;
import io.longnet.attention.CpuAttentionKernel;
import io.longnet.attention.DilatedAttentionConfig;
import io.longnet.attention.HeadOffset;
import io.longnet.attention.Tensors;
import io.longnet.attention.HalfFloat;
import io.longnet.attention.NonFiniteInputException;
import io.longnet.attention.NonFiniteValue;
import io.longnet.tensors.DType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Parity of the CUDA kernels with float64 (skipped, with the reason, where no CUDA device exists). */
@Tag("gpu")
@EnabledIf(value = "gpuAvailable", disabledReason = "no usable CUDA device here; the GPU tests run on a GPU"
        + " machine through gpu-native/scripts/device-run.sh")
class GpuAttentionKernelTest {

    static boolean gpuAvailable() {
        return CudaDevices.pool().unavailableReason() == null;
    }

    /** Runs the GPU with o and lse poisoned (NaN), so that anything left unwritten fails. */
    static AttentionResult gpu(DilatedAttentionConfig c, float[] q, float[] k, float[] v, Precision p) {
        int n = q.length / c.rowWidth();
        float[] o = new float[q.length];
        float[] lse = new float[n * c.heads()];
        Arrays.fill(o, Float.NaN);
        Arrays.fill(lse, Float.NaN);
        try (GpuAttentionKernel kernel = new GpuAttentionKernel(0, p)) {
            kernel.forward(c, FloatBuffer.wrap(q), FloatBuffer.wrap(k), FloatBuffer.wrap(v), n, FloatBuffer.wrap(o),
                    FloatBuffer.wrap(lse));
        }
        return new AttentionResult(FloatBuffer.wrap(o), FloatBuffer.wrap(lse));
    }

    @ParameterizedTest(name = "{0} H={1} d={2} causal={3} N={4} {5}")
    @CsvSource(delimiter = '|', value = {
        "16:1,32:2,64:4,128:6,256:12 | 12 | 64  | false | 1000 | FP32",
        "16:1,32:2,64:4,128:6,256:12 | 12 | 64  | true  | 1000 | FP32",
        "16:1,32:2,64:4,128:6,256:12 | 12 | 64  | false | 1000 | BF16",
        "16:1,32:2,64:4,128:6,256:12 | 12 | 64  | true  | 1000 | BF16",
        "100:1,300:7                 | 5  | 32  | true  | 777  | BF16",
        "100:1,300:7                 | 5  | 32  | false | 777  | FP32",
        "2048:1,512:3                | 3  | 128 | true  | 1500 | BF16",
        "2048:1,512:3                | 3  | 128 | false | 1500 | FP32",
        "7:1,5:2                     | 4  | 32  | true  | 1    | BF16",
        // A first branch of dilation 7: the rows it does not select start from cleared o and lse.
        "300:7,100:1                 | 5  | 32  | false | 777  | BF16",
        "300:7,100:1                 | 5  | 64  | true  | 777  | FP32",
        // Segments long enough for sm_90a's warp-specialised d = 64 kernel to overlap tiles (its first
        // loop), with a ragged last segment and a dilation that does not divide w.
        "2048:1,4096:3               | 2  | 64  | false | 5000 | BF16",
        "2048:1,4096:3               | 2  | 64  | true  | 5000 | BF16",
    })
    void matchesFloat64(String branches, int heads, int d, boolean causal, int n, Precision p) {
        for (HeadOffset mode : HeadOffset.values()) {
            DilatedAttentionConfig c = new DilatedAttentionConfig(Branch.parseList(branches), heads, d, causal, mode);
            SplittableRandom rnd = new SplittableRandom(n * 7L + d);
            float[] q = Tensors.random(rnd, n * c.rowWidth(), 2.0);
            float[] k = Tensors.random(rnd, n * c.rowWidth(), 2.0);
            float[] v = Tensors.random(rnd, n * c.rowWidth(), 1.0);
            AttentionResult got = gpu(c, q, k, v, p);
            BruteForceReference want = BruteForceReference.compute(c, q, k, v, n);
            double bound = p == Precision.FP32 ? 1e-5 : 1e-2;
            double eo = Tensors.relativeError(got.oArray(), want.o);
            double el = Tensors.relativeError(got.lseArray(), want.lse);
            System.out.printf("%s %s causal=%s N=%d %s: o %.2e lse %.2e%n", branches, mode, causal, n, p, eo, el);
            assertTrue(eo < bound && el < bound, mode + ": o error " + eo + ", lse error " + el + " (bound " + bound + ")");
        }
    }

    /** The paper's config A at N = 65536 against the CPU engine (itself held to float64 within 1e-5). */
    @ParameterizedTest(name = "config A, N=65536, causal={0}, {1}")
    @CsvSource({"false, BF16", "true, BF16", "false, FP32", "true, FP32"})
    void papersConfigA(boolean causal, Precision p) {
        DilatedAttentionConfig c = DilatedAttentionConfig.of(
                Branch.parseList("2048:1,4096:2,8192:4,16384:6,32768:12"), 12, 64, causal);
        int n = 65536;
        SplittableRandom rnd = new SplittableRandom(causal ? 1 : 2);
        float[] q = Tensors.random(rnd, n * c.rowWidth(), 2.0);
        float[] k = Tensors.random(rnd, n * c.rowWidth(), 2.0);
        float[] v = Tensors.random(rnd, n * c.rowWidth(), 1.0);
        AttentionResult got = gpu(c, q, k, v, p);
        AttentionResult want;
        try (CpuAttentionKernel cpu = new CpuAttentionKernel()) {
            want = cpu.forward(c, q, k, v);
        }
        double bound = p == Precision.FP32 ? 1e-5 : 1e-2;
        double eo = Tensors.relativeError(got.oArray(), toDouble(want.oArray()));
        double el = Tensors.relativeError(got.lseArray(), toDouble(want.lseArray()));
        System.out.printf("config A N=65536 causal=%s %s: o %.2e lse %.2e%n", causal, p, eo, el);
        assertTrue(eo < bound && el < bound, "o error " + eo + ", lse error " + el);
    }

    /** Chunks of 512 positions stream through two slots and streams: 10 chunks, the last one short. */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"FP32", "BF16"})
    void longSequencesStreamThroughInChunks(Precision p) {
        DilatedAttentionConfig c = DilatedAttentionConfig.of(Branch.parseList("128:1,256:2,512:4"), 4, 32, true);
        int n = 5000;
        SplittableRandom rnd = new SplittableRandom(17);
        float[] q = Tensors.random(rnd, n * c.rowWidth(), 2.0);
        float[] k = Tensors.random(rnd, n * c.rowWidth(), 2.0);
        float[] v = Tensors.random(rnd, n * c.rowWidth(), 1.0);
        float[] o = new float[q.length];
        float[] lse = new float[n * c.heads()];
        Arrays.fill(o, Float.NaN);
        Arrays.fill(lse, Float.NaN);
        try (GpuAttentionKernel kernel = new GpuAttentionKernel(0, p, 512)) {
            kernel.forward(c, FloatBuffer.wrap(q), FloatBuffer.wrap(k), FloatBuffer.wrap(v), n, FloatBuffer.wrap(o),
                    FloatBuffer.wrap(lse));
        }
        BruteForceReference want = BruteForceReference.compute(c, q, k, v, n);
        double bound = p == Precision.FP32 ? 1e-5 : 1e-2;
        double eo = Tensors.relativeError(o, want.o);
        double el = Tensors.relativeError(lse, want.lse);
        System.out.printf("streamed in chunks of 512, N=%d %s: o %.2e lse %.2e%n", n, p, eo, el);
        assertTrue(eo < bound && el < bound, "o error " + eo + ", lse error " + el);
    }

    @Test
    void gatheredSpanningSegmentsMatchTheCpuEngine() {
        DilatedAttentionConfig c = DilatedAttentionConfig.of(Branch.parseList("64:1,256:3"), 5, 32, true);
        int n = 64; // one partition of a 256-segment, starting 128 into it
        SplittableRandom rnd = new SplittableRandom(5);
        float[] q = Tensors.random(rnd, n * c.rowWidth(), 2.0);
        List<FloatBuffer> keys = new java.util.ArrayList<>();
        List<FloatBuffer> values = new java.util.ArrayList<>();
        for (int h = 0; h < c.heads(); h++) {
            // Causal: at least up to the block's last selected row (sparse row 63 of the segment).
            int rows = 64 + h;
            keys.add(FloatBuffer.wrap(Tensors.random(rnd, rows * 32, 2.0)));
            values.add(FloatBuffer.wrap(Tensors.random(rnd, rows * 32, 1.0)));
        }
        float[] o0 = Tensors.random(rnd, n * c.rowWidth(), 1.0);
        float[] lse0 = Tensors.random(rnd, n * c.heads(), 3.0);
        float[] oCpu = o0.clone();
        float[] lCpu = lse0.clone();
        float[] oGpu = o0.clone();
        float[] lGpu = lse0.clone();
        Branch b = new Branch(256, 3);
        try (CpuAttentionKernel cpu = new CpuAttentionKernel(2);
             GpuAttentionKernel gpu = new GpuAttentionKernel(0, Precision.FP32)) {
            cpu.attendGathered(c, b, 128, FloatBuffer.wrap(q), n, keys, values, FloatBuffer.wrap(oCpu), FloatBuffer.wrap(lCpu));
            gpu.attendGathered(c, b, 128, FloatBuffer.wrap(q), n, keys, values, FloatBuffer.wrap(oGpu), FloatBuffer.wrap(lGpu));
        }
        assertTrue(Tensors.relativeError(oGpu, toDouble(oCpu)) < 1e-5, "o");
        assertTrue(Tensors.relativeError(lGpu, toDouble(lCpu)) < 1e-5, "lse");
    }

    /**
     * 16-bit inputs widened on the device give exactly what the same values as floats give (the host widens
     * exactly, the device rounds both to bf16 the same way), in one chunk and in chunks of 512 (direct
     * buffers, as a mapped file gives them); o and lse start poisoned.
     */
    @ParameterizedTest(name = "{0} {1} chunk limit {2}")
    @CsvSource({"F16, BF16, 0", "BF16, BF16, 0", "F16, FP32, 0", "BF16, FP32, 512", "F16, BF16, 512"})
    void halfInputsGiveWhatTheirFloatsGive(HalfFloat format, Precision p, int chunkLimit) {
        DilatedAttentionConfig c = DilatedAttentionConfig.of(Branch.parseList("128:1,256:2,512:4"), 4, 32, true);
        int n = 3000;
        int elems = n * c.rowWidth();
        SplittableRandom rnd = new SplittableRandom(23);
        ShortBuffer[] half = new ShortBuffer[3];
        float[][] wide = new float[3][elems];
        for (int t = 0; t < 3; t++) {
            half[t] = ByteBuffer.allocateDirect(elems * 2).order(ByteOrder.LITTLE_ENDIAN).asShortBuffer();
            for (int i = 0; i < elems; i++) {
                float x = (float) (rnd.nextDouble() * 4 - 2);
                short bits = format == HalfFloat.F16 ? DType.floatToHalf(x) : DType.floatToBf16(x);
                half[t].put(i, bits);
                wide[t][i] = format.toFloat(bits);
            }
        }
        FloatBuffer o = ByteBuffer.allocateDirect(elems * 4).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
        FloatBuffer lse = ByteBuffer.allocateDirect(n * c.heads() * 4).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
        for (int i = 0; i < elems; i++) {
            o.put(i, Float.NaN);
        }
        for (int i = 0; i < n * c.heads(); i++) {
            lse.put(i, Float.NaN);
        }
        float[] wantO = new float[elems];
        float[] wantLse = new float[n * c.heads()];
        try (GpuAttentionKernel kernel = new GpuAttentionKernel(0, p, chunkLimit)) {
            assertNull(kernel.forward(c, c.branches(), format, half[0], half[1], half[2], n, o, lse));
            kernel.forward(c, FloatBuffer.wrap(wide[0]), FloatBuffer.wrap(wide[1]), FloatBuffer.wrap(wide[2]), n,
                    FloatBuffer.wrap(wantO), FloatBuffer.wrap(wantLse));
        }
        float[] gotO = new float[elems];
        float[] gotLse = new float[n * c.heads()];
        o.get(0, gotO);
        lse.get(0, gotLse);
        assertArrayEquals(wantO, gotO, "o");
        assertArrayEquals(wantLse, gotLse, "lse");
    }

    /** The first infinite or NaN input is reported with its tensor and element, in the chunk it lies in. */
    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"F16, BF16", "BF16, FP32"})
    void nonFiniteHalfInputsAreNamed(HalfFloat format, Precision p) {
        DilatedAttentionConfig c = DilatedAttentionConfig.of(Branch.parseList("64:1,128:2"), 2, 32, false);
        int n = 1024;
        int elems = n * c.rowWidth();
        ShortBuffer[] half = new ShortBuffer[3];
        for (int t = 0; t < 3; t++) {
            half[t] = ShortBuffer.allocate(elems);
            for (int i = 0; i < elems; i++) {
                half[t].put(i, format == HalfFloat.F16 ? DType.floatToHalf(0.25f) : DType.floatToBf16(0.25f));
            }
        }
        short inf = format == HalfFloat.F16 ? (short) 0x7C00 : (short) 0x7F80;
        short nan = format == HalfFloat.F16 ? (short) 0x7E00 : (short) 0x7FC0;
        half[1].put(40_000, inf);
        half[1].put(39_999 + 1000, nan);
        half[2].put(5, nan);
        try (GpuAttentionKernel kernel = new GpuAttentionKernel(0, p, 256)) {
            NonFiniteInputException e = assertThrows(NonFiniteInputException.class, () -> kernel.forward(c,
                    c.branches(), format, half[0], half[1], half[2], n, FloatBuffer.allocate(elems),
                    FloatBuffer.allocate(n * c.heads())));
            // The chunk holding v[5] comes first, but k is checked before v within a chunk: chunk 0 has no bad k.
            assertEquals("v", e.tensor());
            assertEquals(5, e.element());
            half[2].put(5, (short) 0);
            e = assertThrows(NonFiniteInputException.class, () -> kernel.forward(c, c.branches(), format, half[0],
                    half[1], half[2], n, FloatBuffer.allocate(elems), FloatBuffer.allocate(n * c.heads())));
            assertEquals("k", e.tensor());
            assertEquals(40_000, e.element());
            assertEquals(Float.POSITIVE_INFINITY, e.value());
        }
    }

    /**
     * q·k overflowing float32 gives non-finite results; the call writes them all and returns the first one, as
     * the CPU engine's path for 16-bit inputs does (the element it names holds that value).
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"BF16", "FP32"})
    void overflowingResultsAreReturnedLikeTheCpuEngineReturnsThem(Precision p) {
        DilatedAttentionConfig c = DilatedAttentionConfig.of(Branch.parseList("64:1,128:2"), 2, 32, false);
        int n = 512;
        int elems = n * c.rowWidth();
        ShortBuffer big = ShortBuffer.allocate(elems);
        for (int i = 0; i < elems; i++) {
            big.put(i, (short) 0x7F00); // bf16 of about 1.7e38
        }
        FloatBuffer o = FloatBuffer.allocate(elems);
        FloatBuffer lse = FloatBuffer.allocate(n * c.heads());
        NonFiniteValue want;
        try (CpuAttentionKernel cpu = new CpuAttentionKernel(2)) {
            want = cpu.forward(c, c.branches(), HalfFloat.BF16, big, big, big, n, FloatBuffer.allocate(elems),
                    FloatBuffer.allocate(n * c.heads()));
        }
        try (GpuAttentionKernel kernel = new GpuAttentionKernel(0, p, 128)) {
            NonFiniteValue got = kernel.forward(c, c.branches(), HalfFloat.BF16, big, big, big, n, o, lse);
            assertEquals(want.tensor(), got.tensor());
            assertEquals(want.element(), got.element());
            assertEquals(Float.floatToRawIntBits(got.value()), Float.floatToRawIntBits(o.get((int) got.element())));
        }
    }

    @Test
    void theModuleReportsTheShapeOfTheCodeItLoaded() {
        CudaDevice device = CudaDevices.pool().device(0);
        for (Precision p : Precision.values()) {
            for (int d : LaunchGeometry.HEAD_WIDTHS) {
                KernelShape shape = device.shape(p.kernelName(d));
                assertEquals(0, shape.tileRows() % (p == Precision.BF16 ? 64 : 32), p + " d=" + d + ": " + shape);
            }
        }
        // Hopper loads the sm_90a machine code: the warp-specialised kernel at d = 64 (WarpSpecialisedTraits).
        if (device.name().matches(".*H(100|200).*")) {
            assertEquals(new KernelShape(640, 256, (256 * 64 + 2 * 4 * 64 * 64) * 2),
                    device.shape(Precision.BF16.kernelName(64)));
        }
    }

    @Test
    void buffersCloseOnce() {
        CudaDevices.pool().device(0).makeCurrent();
        DeviceBuffer device = new DeviceBuffer(1024);
        PinnedBuffer pinned = new PinnedBuffer(1024);
        device.close();
        pinned.close();
        // A second free of the same pointer would fail (CUDA_ERROR_INVALID_VALUE): close must not free again.
        assertDoesNotThrow(device::close);
        assertDoesNotThrow(pinned::close);
    }

    private static double[] toDouble(float[] a) {
        double[] out = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = a[i];
        }
        return out;
    }
}
