package io.longnet.attention;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class CpuAttentionKernelTest {

    private static final double TOLERANCE = 1e-5;
    private static CpuAttentionKernel kernel;

    @BeforeAll
    static void start() {
        kernel = new CpuAttentionKernel(2);
    }

    @AfterAll
    static void stop() {
        kernel.close();
    }

    static LongStream seeds() {
        return LongStream.range(0, 60);
    }

    /** A random config that exercises ragged segments, w > N, r not dividing w, H not a multiple of r. */
    static DilatedAttentionConfig randomConfig(SplittableRandom rnd, int n) {
        int[] widths = {1, 3, 8, 16, 24, 32, 64};
        List<Branch> branches = new ArrayList<>();
        int count = 1 + rnd.nextInt(4);
        int[] lengths = {1, 2, 5, 7, 12, 16, 48, 64, 96, 100, 128, 200, 256, 777, 1024, 4096};
        while (branches.size() < count) {
            int w = lengths[rnd.nextInt(lengths.length)];
            int r = branches.isEmpty() ? 1 : 1 + rnd.nextInt(Math.min(w, 13));
            Branch b = new Branch(w, r);
            if (!branches.contains(b)) {
                branches.add(b);
            }
        }
        java.util.Collections.shuffle(branches, new java.util.Random(rnd.nextLong()));
        HeadOffset mode = rnd.nextInt(4) == 0 ? HeadOffset.CONTIGUOUS_GROUPS : HeadOffset.PAPER;
        return new DilatedAttentionConfig(branches, 1 + rnd.nextInt(5), widths[rnd.nextInt(widths.length)],
                rnd.nextBoolean(), mode);
    }

    private static int randomLength(SplittableRandom rnd) {
        return switch (rnd.nextInt(5)) {
            case 0 -> 1 + rnd.nextInt(16);
            case 1, 2 -> 1 + rnd.nextInt(600);
            case 3 -> 600 + rnd.nextInt(1400);
            default -> 2000 + rnd.nextInt(1500);
        };
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    void matchesFloat64BruteForceOnRandomConfigs(long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int n = randomLength(rnd);
        DilatedAttentionConfig config = randomConfig(rnd, n);
        int size = n * config.rowWidth();
        float[] q = Tensors.random(rnd, size, 2.0);
        float[] k = Tensors.random(rnd, size, 2.0);
        float[] v = Tensors.random(rnd, size, 1.0);

        AttentionResult got = kernel.forward(config, q, k, v);
        BruteForceReference want = BruteForceReference.compute(config, q, k, v, n);

        String what = "seed " + seed + ", N=" + n + ", " + config;
        assertBelow(Tensors.relativeError(got.oArray(), want.o), what + ": o");
        assertBelow(Tensors.relativeError(got.lseArray(), want.lse), what + ": lse");
    }

    @Test
    void paperStyleBranchesWhereDilationDoesNotDivideSegment() {
        // The paper's LM config scaled down by 256: 2048:1 .. 32768:12 becomes 8:1 .. 128:12.
        DilatedAttentionConfig config = DilatedAttentionConfig.of(
                Branch.parseList("8:1,16:2,32:4,64:6,128:12"), 12, 16, false);
        for (boolean causal : new boolean[] {false, true}) {
            DilatedAttentionConfig c = config.withCausal(causal);
            SplittableRandom rnd = new SplittableRandom(7);
            int n = 1000; // not a multiple of 64 or 128
            float[] q = Tensors.random(rnd, n * c.rowWidth(), 3.0);
            float[] k = Tensors.random(rnd, n * c.rowWidth(), 3.0);
            float[] v = Tensors.random(rnd, n * c.rowWidth(), 1.0);
            AttentionResult got = kernel.forward(c, q, k, v);
            BruteForceReference want = BruteForceReference.compute(c, q, k, v, n);
            assertBelow(Tensors.relativeError(got.oArray(), want.o), "causal=" + causal + ": o");
            assertBelow(Tensors.relativeError(got.lseArray(), want.lse), "causal=" + causal + ": lse");
        }
    }

    @ParameterizedTest(name = "causal={0}")
    @ValueSource(booleans = {false, true})
    void singleDenseBranchEqualsPlainSoftmaxAttention(boolean causal) {
        SplittableRandom rnd = new SplittableRandom(causal ? 11 : 12);
        for (int n : new int[] {1, 2, 63, 64, 65, 130, 517}) {
            for (int w : new int[] {n, 2 * n + 3}) {
                DilatedAttentionConfig c = DilatedAttentionConfig.of(List.of(new Branch(w, 1)), 3, 24, causal);
                float[] q = Tensors.random(rnd, n * c.rowWidth(), 2.0);
                float[] k = Tensors.random(rnd, n * c.rowWidth(), 2.0);
                float[] v = Tensors.random(rnd, n * c.rowWidth(), 1.0);
                AttentionResult got = kernel.forward(c, q, k, v);
                DenseReference want = DenseReference.compute(3, 24, causal, q, k, v, n);
                assertBelow(Tensors.relativeError(got.oArray(), want.o), "N=" + n + " w=" + w + ": o");
                assertBelow(Tensors.relativeError(got.lseArray(), want.lse), "N=" + n + " w=" + w + ": lse");
            }
        }
    }

    @Test
    void resultDoesNotDependOnThreadCount() {
        SplittableRandom rnd = new SplittableRandom(3);
        DilatedAttentionConfig c = DilatedAttentionConfig.of(Branch.parseList("96:1,192:2,384:6"), 5, 32, true);
        int n = 1500;
        float[] q = Tensors.random(rnd, n * c.rowWidth(), 2.0);
        float[] k = Tensors.random(rnd, n * c.rowWidth(), 2.0);
        float[] v = Tensors.random(rnd, n * c.rowWidth(), 1.0);
        AttentionResult reference;
        try (CpuAttentionKernel one = new CpuAttentionKernel(1)) {
            reference = one.forward(c, q, k, v);
        }
        for (int threads : new int[] {2, 3, 8}) {
            try (CpuAttentionKernel many = new CpuAttentionKernel(threads)) {
                AttentionResult got = many.forward(c, q, k, v);
                assertArrayEquals(reference.oArray(), got.oArray(), threads + " threads: o");
                assertArrayEquals(reference.lseArray(), got.lseArray(), threads + " threads: lse");
            }
        }
    }

    /**
     * Branches whose segments nest run a region of the longest segment per item, every branch in turn:
     * the bits of running the branches one after another over the whole sequence (each row merges them in
     * the same order), with a short last region (n not a multiple of 384) and head offsets.
     */
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void nestedBranchesByRegionGiveTheBranchByBranchBits(boolean causal) {
        SplittableRandom rnd = new SplittableRandom(13);
        DilatedAttentionConfig c = DilatedAttentionConfig.of(Branch.parseList("96:1,192:2,384:6"), 5, 32, causal);
        int n = 1500;
        assertTrue(QueryTiles.byRegionFits(c.branches(), n, c.heads(), kernel.threads()), "4 regions x 5 heads");
        assertTrue(!QueryTiles.byRegionFits(Branch.parseList("96:1,128:2"), n, 5, 2), "128 is not a multiple of 96");
        assertTrue(!QueryTiles.byRegionFits(c.branches(), 384, 1, 2), "one region and head: one worker busy");
        int d = c.headDim();
        float[] q = Tensors.random(rnd, n * c.rowWidth(), 2.0);
        float[] k = Tensors.random(rnd, n * c.rowWidth(), 2.0);
        float[] v = Tensors.random(rnd, n * c.rowWidth(), 1.0);
        FloatBuffer o = FloatBuffer.allocate(n * c.rowWidth());
        FloatBuffer lse = FloatBuffer.allocate(n * c.heads());
        java.util.Arrays.fill(lse.array(), Float.NEGATIVE_INFINITY);
        FloatBuffer qs = FloatBuffer.wrap(q);
        FloatBuffer ks = FloatBuffer.wrap(k);
        FloatBuffer vs = FloatBuffer.wrap(v);
        try (WorkPool pool = new WorkPool(1, "branch-by-branch")) {
            for (Branch branch : c.branches()) {
                QueryTiles.inPlace(pool, () -> SegmentTileAttention.create(d), c, branch, n, SegmentTileAttention.TILE_Q,
                        (tile, head, rows, count, i0, i1, shift) ->
                                tile.attend(qs, rows, ks, vs, rows, count, o, lse, i0, i1, shift, causal));
            }
        }
        AttentionResult got = kernel.forward(c, q, k, v);
        assertArrayEquals(o.array(), got.oArray(), "o");
        assertArrayEquals(lse.array(), got.lseArray(), "lse");
    }

    @Test
    void directBuffersAtAnyPositionGiveTheSameResultAsArrays() {
        SplittableRandom rnd = new SplittableRandom(5);
        DilatedAttentionConfig c = DilatedAttentionConfig.of(Branch.parseList("50:1,100:3"), 4, 16, false);
        int n = 333;
        int size = n * c.rowWidth();
        float[] q = Tensors.random(rnd, size, 2.0);
        float[] k = Tensors.random(rnd, size, 2.0);
        float[] v = Tensors.random(rnd, size, 1.0);
        AttentionResult fromArrays = kernel.forward(c, q, k, v);

        int pad = 17;
        FloatBuffer o = direct(size + pad).position(pad);
        FloatBuffer lse = direct(n * c.heads() + pad).position(pad);
        kernel.forward(c, directCopy(q, pad), directCopy(k, pad), directCopy(v, pad), n, o, lse);
        assertEquals(pad, o.position(), "the kernel leaves buffer positions unchanged");
        assertArrayEquals(fromArrays.oArray(), new AttentionResult(o, lse).oArray());
        assertArrayEquals(fromArrays.lseArray(), new AttentionResult(o, lse).lseArray());
    }

    @Test
    void branchMixtureEqualsLseMergeOfTheBranchesComputedAlone() {
        SplittableRandom rnd = new SplittableRandom(9);
        int n = 700;
        DilatedAttentionConfig both = DilatedAttentionConfig.of(Branch.parseList("64:1,256:1"), 2, 8, true);
        float[] q = Tensors.random(rnd, n * both.rowWidth(), 2.0);
        float[] k = Tensors.random(rnd, n * both.rowWidth(), 2.0);
        float[] v = Tensors.random(rnd, n * both.rowWidth(), 1.0);
        AttentionResult mixed = kernel.forward(both, q, k, v);
        AttentionResult a = kernel.forward(DilatedAttentionConfig.of(List.of(new Branch(64, 1)), 2, 8, true), q, k, v);
        AttentionResult b = kernel.forward(DilatedAttentionConfig.of(List.of(new Branch(256, 1)), 2, 8, true), q, k, v);
        AttentionResult merged = LseMerge.merge(a.oArray(), a.lseArray(), b.oArray(), b.lseArray(), 8);
        assertBelow(Tensors.relativeError(mixed.oArray(), toDouble(merged.oArray())), "o");
        assertBelow(Tensors.relativeError(mixed.lseArray(), toDouble(merged.lseArray())), "lse");
    }

    @Test
    void firstCausalPositionAttendsOnlyToItself() {
        SplittableRandom rnd = new SplittableRandom(13);
        DilatedAttentionConfig c = DilatedAttentionConfig.of(List.of(new Branch(16, 1)), 1, 4, true);
        float[] q = Tensors.random(rnd, 16 * 4, 1.0);
        float[] k = Tensors.random(rnd, 16 * 4, 1.0);
        float[] v = Tensors.random(rnd, 16 * 4, 1.0);
        AttentionResult got = kernel.forward(c, q, k, v);
        double score = 0;
        for (int e = 0; e < 4; e++) {
            score += (double) q[e] * k[e];
        }
        assertEquals(score / 2, got.lseArray()[0], 1e-6, "lse of position 0 is its own score");
        for (int e = 0; e < 4; e++) {
            assertEquals(v[e], got.oArray()[e], 1e-6, "o of position 0 is v of position 0");
        }
    }

    @Test
    void rejectsBuffersOfTheWrongSize() {
        DilatedAttentionConfig c = DilatedAttentionConfig.of(List.of(new Branch(8, 1)), 2, 4, false);
        float[] ok = new float[10 * 8];
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> kernel.forward(c, FloatBuffer.wrap(ok), FloatBuffer.wrap(new float[79]),
                        FloatBuffer.wrap(ok), 10));
        assertEquals("k holds 79 floats, needs 80", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> kernel.forward(c, ok, ok, new float[0]));
        assertEquals("v holds 0 floats, needs 80", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> kernel.forward(c, new float[81], ok, ok));
        assertEquals("q holds 81 floats, not a multiple of H*d = 8", e.getMessage());
    }

    private static void assertBelow(double error, String what) {
        assertTrue(error < TOLERANCE, what + ": relative error " + error + " >= " + TOLERANCE);
    }

    private static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i];
        }
        return d;
    }

    private static FloatBuffer direct(int floats) {
        return ByteBuffer.allocateDirect(floats * Float.BYTES).order(ByteOrder.nativeOrder()).asFloatBuffer();
    }

    private static FloatBuffer directCopy(float[] a, int pad) {
        FloatBuffer b = direct(a.length + pad);
        b.put(pad, a);
        return b.position(pad);
    }
}
