package io.longnet.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The distributed plan in one process: a sequence cut into blocks of L, local branches computed per
 * block, spanning branches from keys/values gathered out of the blocks their segment covers. Must equal
 * the whole-sequence result and the float64 reference.
 */
class BlockwiseAttentionTest {

    private static CpuAttentionKernel kernel;

    @BeforeAll
    static void start() {
        kernel = new CpuAttentionKernel(2);
    }

    @AfterAll
    static void stop() {
        kernel.close();
    }

    /** Runs the block plan; keys for a spanning segment come only from blocks at or before (causal). */
    static AttentionResult blockwise(DilatedAttentionConfig c, float[] q, float[] k, float[] v, int n, int len) {
        int width = c.rowWidth();
        int heads = c.heads();
        int d = c.headDim();
        List<Branch> local = new ArrayList<>();
        List<Branch> spanning = new ArrayList<>();
        for (Branch b : c.branches()) {
            (len % b.segmentLength() == 0 ? local : spanning).add(b);
        }
        AttentionResult out = AttentionResult.allocate(c, n);
        for (int start = 0; start < n; start += len) {
            int m = Math.min(len, n - start);
            FloatBuffer qb = FloatBuffer.wrap(q, start * width, m * width).slice();
            FloatBuffer ob = out.o().position(start * width).slice();
            FloatBuffer lb = out.lse().position(start * heads).slice();
            kernel.forward(c, local, qb, FloatBuffer.wrap(k, start * width, m * width).slice(),
                    FloatBuffer.wrap(v, start * width, m * width).slice(), m, ob, lb);
            for (Branch b : spanning) {
                int w = b.segmentLength();
                int segStart = start / w * w;
                int keyEnd = c.causal() ? start + m : Math.min(segStart + w, n);
                List<FloatBuffer> keys = new ArrayList<>();
                List<FloatBuffer> values = new ArrayList<>();
                for (int h = 0; h < heads; h++) {
                    int offset = c.offset(b, h);
                    FloatBuffer kh = FloatBuffer.allocate(w * d);
                    FloatBuffer vh = FloatBuffer.allocate(w * d);
                    for (int src = segStart; src < keyEnd; src += len) {
                        int sm = Math.min(len, keyEnd - src);
                        DilatedSelection sel = DilatedSelection.of(src - segStart, sm, offset, b.dilation());
                        kh.put(sel.gather(FloatBuffer.wrap(k, src * width, sm * width).slice(), heads, d, h));
                        vh.put(sel.gather(FloatBuffer.wrap(v, src * width, sm * width).slice(), heads, d, h));
                    }
                    keys.add(kh.flip());
                    values.add(vh.flip());
                }
                kernel.attendGathered(c, b, start - segStart, qb, m, keys, values, ob, lb);
            }
        }
        out.o().position(0);
        out.lse().position(0);
        return out;
    }

    @ParameterizedTest(name = "{0} H={1} d={2} causal={3} N={4} L={5}")
    @CsvSource(delimiter = '|', value = {
        "16:1,32:2,64:4,128:6,256:12 | 12 | 16 | false | 1000 | 64",
        "16:1,32:2,64:4,128:6,256:12 | 12 | 16 | true  | 1000 | 32",
        "16:1,32:2,64:4,128:6,256:12 | 5  | 8  | true  | 777  | 16",
        "64:1,256:3                  | 3  | 32 | false | 700  | 64",
        "64:1,256:3                  | 3  | 32 | true  | 513  | 128",
        "512:1                       | 2  | 16 | true  | 600  | 64",
        "512:1,1024:5                | 2  | 16 | false | 1500 | 512",
    })
    void blocksWithGatheredSpanningSegmentsEqualTheWholeSequence(String branches, int heads, int d,
                                                                 boolean causal, int n, int len) {
        DilatedAttentionConfig c = DilatedAttentionConfig.of(Branch.parseList(branches), heads, d, causal);
        SplittableRandom rnd = new SplittableRandom(n * 31L + len);
        float[] q = Tensors.random(rnd, n * c.rowWidth(), 2.0);
        float[] k = Tensors.random(rnd, n * c.rowWidth(), 2.0);
        float[] v = Tensors.random(rnd, n * c.rowWidth(), 1.0);
        AttentionResult whole = kernel.forward(c, q, k, v);
        AttentionResult blocks = blockwise(c, q, k, v, n, len);
        BruteForceReference want = BruteForceReference.compute(c, q, k, v, n);
        assertTrue(Tensors.relativeError(blocks.oArray(), want.o) < 1e-5, "o vs float64");
        assertTrue(Tensors.relativeError(blocks.lseArray(), want.lse) < 1e-5, "lse vs float64");
        assertTrue(Tensors.relativeError(blocks.oArray(), toDouble(whole.oArray())) < 1e-5, "o vs whole");
    }

    @Test
    void selectionCountsAndIndicesFollowTheSegmentRows() {
        // Segment rows of offset 2, r = 6: positions 2, 8, 14, 20, 26, ... A block at 10..26 (16 long)
        // holds 14, 20 (sparse indices 2, 3) and not 26.
        DilatedSelection s = DilatedSelection.of(10, 16, 2, 6);
        assertEquals(new DilatedSelection(4, 2, 2, 6), s);
        assertEquals(10, s.row(1));
        assertEquals(0, DilatedSelection.of(0, 2, 3, 4).count(), "offset beyond a short block");
        assertEquals(new DilatedSelection(3, 0, 3, 4), DilatedSelection.of(0, 12, 3, 4));
    }

    @Test
    void rejectsBranchesThatAreNotTheConfigs() {
        DilatedAttentionConfig c = DilatedAttentionConfig.of(Branch.parseList("8:1,16:2"), 1, 4, false);
        float[] x = new float[64];
        FloatBuffer b = FloatBuffer.wrap(x);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> kernel.forward(c, List.of(new Branch(32, 2)), b, b, b, 16, FloatBuffer.allocate(64),
                        FloatBuffer.allocate(16)));
        assertEquals("branch 32:2 is not one of [8:1, 16:2] (or out of their order)", e.getMessage());
    }

    private static double[] toDouble(float[] a) {
        double[] out = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = a[i];
        }
        return out;
    }
}
