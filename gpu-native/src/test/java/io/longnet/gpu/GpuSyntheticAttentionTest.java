package io.longnet.gpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.attention.Branch;
import io.longnet.attention.CounterQkv;
import io.longnet.attention.CpuAttentionKernel;
import io.longnet.attention.DilatedAttentionConfig;
import io.longnet.attention.DilatedSelection;
import io.longnet.attention.GatheredBranch;
import io.longnet.attention.OutputChecksum;
import io.longnet.attention.SyntheticOutput;
import io.longnet.attention.SyntheticRowReference;
import io.longnet.attention.Tensors;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The device's synthetic path against the host's: inputs generated bit for bit as {@link CounterQkv} makes them,
 * checksums reduced bit for bit as {@link OutputChecksum} sums, and attention over them (local and gathered
 * branches) within the precision's bound of the CPU path and of the float64 rows (skipped, with the reason,
 * where no CUDA device exists).
 */
@Tag("gpu")
@EnabledIf(value = "gpuAvailable", disabledReason = "no usable CUDA device here; the GPU tests run on a GPU"
        + " machine through gpu-native/scripts/device-run.sh")
class GpuSyntheticAttentionTest {

    static boolean gpuAvailable() {
        return CudaDevices.pool().unavailableReason() == null;
    }

    @ParameterizedTest(name = "{0}, {1} bits")
    @CsvSource({"FP32, 24", "FP32, 8", "BF16, 8"})
    void theDeviceGeneratesTheHostsInputs(Precision p, int bits) {
        DilatedAttentionConfig c = DilatedAttentionConfig.of(List.of(new Branch(16, 1)), 3, 32, false);
        CounterQkv inputs = new CounterQkv(-12345, bits);
        int n = 1000;
        long start = (1L << 31) + 7; // beyond an int: the device's position arithmetic is 64-bit
        int elems = n * c.rowWidth();
        CudaDevices.pool().device(0).makeCurrent(); // the test's own buffers are allocated in the device's context
        try (GpuAttentionKernel kernel = new GpuAttentionKernel(0, p);
             DeviceBuffer out = new DeviceBuffer(4L * elems)) {
            for (int t = 0; t < 3; t++) {
                float[] want = new float[elems];
                inputs.fill(t, start, n, c.heads(), c.headDim(), want);
                kernel.generate(inputs, t, start, n, c, out);
                float[] got = new float[elems];
                if (p == Precision.FP32) {
                    out.download(FloatBuffer.wrap(got), 4L * elems);
                } else {
                    short[] bf16 = new short[elems];
                    out.download(ShortBuffer.wrap(bf16), 2L * elems);
                    for (int i = 0; i < elems; i++) {
                        got[i] = Float.intBitsToFloat((bf16[i] & 0xFFFF) << 16);
                    }
                }
                assertArrayEquals(want, got, "tensor " + t);
            }
        }
    }

    @Test
    void theDeviceChecksumIsTheHosts() {
        SplittableRandom rnd = new SplittableRandom(42);
        float[] x = Tensors.random(rnd, 1_000_003, 30.0);
        x[5] = 0.5f / (1 << 24); // a tie: to even on both
        x[6] = 1.5f / (1 << 24);
        CudaDevices.pool().device(0).makeCurrent();
        try (GpuAttentionKernel kernel = new GpuAttentionKernel(0, Precision.FP32);
             DeviceBuffer dx = new DeviceBuffer(4L * x.length);
             DeviceBuffer sums = new DeviceBuffer(2L * Long.BYTES)) {
            dx.upload(FloatBuffer.wrap(x));
            sums.fill32(0, null);
            kernel.checksum(dx, x.length, sums, 0);
            kernel.checksum(dx, 1000, sums, 1);
            long[] got = new long[2];
            sums.download(LongBuffer.wrap(got));
            OutputChecksum want = OutputChecksum.of(FloatBuffer.wrap(x), x.length, FloatBuffer.wrap(x), 1000);
            assertEquals(want, new OutputChecksum(got[0], got[1]));
        }
    }

    @ParameterizedTest(name = "causal={0}, {1}")
    @CsvSource({"false, FP32", "true, FP32", "false, BF16", "true, BF16"})
    void theDevicePathMatchesTheHostsAndFloat64(boolean causal, Precision p) {
        // Positions [256, 384) of a sequence of 1024: two local branches, and 512:8, whose segment [0, 512) the
        // block lies in, from gathered keys and values as the exchange delivers them.
        DilatedAttentionConfig c = DilatedAttentionConfig.of(Branch.parseList("16:1,64:4,512:8"), 4, 64, causal);
        CounterQkv inputs = CounterQkv.of(99, p == Precision.BF16);
        int n = 128;
        long start = 256;
        Branch spanning = new Branch(512, 8);
        List<FloatBuffer> keys = new ArrayList<>();
        List<FloatBuffer> values = new ArrayList<>();
        for (int h = 0; h < c.heads(); h++) {
            DilatedSelection sel = DilatedSelection.of(0, 512, c.offset(spanning, h), 8);
            keys.add(FloatBuffer.wrap(inputs.rows(CounterQkv.K, sel.firstRow(), 8, sel.count(), h, c.headDim())));
            values.add(FloatBuffer.wrap(inputs.rows(CounterQkv.V, sel.firstRow(), 8, sel.count(), h, c.headDim())));
        }
        List<GatheredBranch> gathered = List.of(new GatheredBranch(spanning, (int) start, keys, values));
        List<Branch> local = Branch.parseList("16:1,64:4");
        int[] rows = {0, 1, 64, 127};
        SyntheticOutput got;
        SyntheticOutput want;
        try (GpuAttentionKernel gpu = new GpuAttentionKernel(0, p); CpuAttentionKernel cpu = new CpuAttentionKernel(2)) {
            got = gpu.attendSynthetic(c, local, inputs, start, n, gathered, rows);
            want = cpu.attendSynthetic(c, local, inputs, start, n, gathered, rows);
        }
        double bound = p == Precision.FP32 ? 1e-5 : 1e-2;
        // Every o value within the bound of |o| <= 1, every lse within the bound of its size (about 5 here).
        double oValues = (double) n * c.rowWidth();
        double lseValues = (double) n * c.heads();
        assertTrue(Math.abs(got.checksum().o() - want.checksum().o()) / OutputChecksum.SCALE < bound * oValues,
                got.checksum().describe() + " against " + want.checksum().describe());
        assertTrue(Math.abs(got.checksum().lse() - want.checksum().lse()) / OutputChecksum.SCALE < bound * 10 * lseValues,
                got.checksum().describe() + " against " + want.checksum().describe());
        try (SyntheticRowReference reference = new SyntheticRowReference(c, inputs, 1024)) {
            for (int i = 0; i < rows.length; i++) {
                double e = reference.relativeError(start + rows[i], got.sampleO(), i * c.rowWidth(), got.sampleLse(),
                        i * c.heads());
                System.out.printf("synthetic causal=%s %s: row %d error %.2e%n", causal, p, start + rows[i], e);
                assertTrue(e < bound, "row " + (start + rows[i]) + ": " + e);
            }
        }
    }
}
