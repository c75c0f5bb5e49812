package io.longnet.attention;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The float64 row reference of synthetic inputs against the naive brute force over the whole generated
 * sequence, and the kernel SPI's synthetic path against the kernel on the same inputs.
 */
class SyntheticRowReferenceTest {

    @ParameterizedTest(name = "{0} causal={1} N={2}")
    @CsvSource(delimiter = '|', value = {
        "8:1,32:4,96:12 | false | 200",
        "8:1,32:4,96:12 | true  | 200",
        "16:1,64:3      | true  | 100"})
    void rowsEqualTheBruteForceOfTheWholeSequence(String branches, boolean causal, int n) {
        DilatedAttentionConfig c = DilatedAttentionConfig.of(Branch.parseList(branches), 3, 4, causal);
        CounterQkv inputs = CounterQkv.of(11, false);
        float[][] qkv = generate(c, inputs, n);
        BruteForceReference want = BruteForceReference.compute(c, qkv[0], qkv[1], qkv[2], n);
        try (SyntheticRowReference ref = new SyntheticRowReference(c, inputs, n)) {
            for (int p : new int[] {0, 1, 13, 95, 96, n - 1}) {
                SyntheticRowReference.Row row = ref.row(p);
                for (int i = 0; i < c.rowWidth(); i++) {
                    assertEquals(want.o[p * c.rowWidth() + i], row.o()[i], 1e-12, "o, position " + p);
                }
                for (int h = 0; h < c.heads(); h++) {
                    assertEquals(want.lse[p * c.heads() + h], row.lse()[h], 1e-12, "lse, position " + p);
                }
                float[] o = new float[c.rowWidth()];
                float[] lse = new float[c.heads()];
                for (int i = 0; i < o.length; i++) {
                    o[i] = (float) row.o()[i];
                }
                for (int h = 0; h < lse.length; h++) {
                    lse[h] = (float) row.lse()[h];
                }
                assertTrue(ref.relativeError(p, o, 0, lse, 0) < 1e-7);
                o[5] += 0.01f;
                assertTrue(ref.relativeError(p, o, 0, lse, 0) > 1e-3, "a wrong value is found");
            }
        }
    }

    @ParameterizedTest(name = "causal={0}")
    @CsvSource({"false", "true"})
    void theSpisSyntheticPathEqualsTheKernelOnTheGeneratedInputs(boolean causal) {
        DilatedAttentionConfig c = DilatedAttentionConfig.of(Branch.parseList("8:1,32:4,64:8"), 2, 8, causal);
        CounterQkv inputs = CounterQkv.of(5, true);
        int n = 128;
        long start = 64; // positions 64..191 of a longer sequence: the generator's counter, not the block's
        float[][] qkv = new float[3][n * c.rowWidth()];
        for (int t = 0; t < 3; t++) {
            inputs.fill(t, start, n, c.heads(), c.headDim(), qkv[t]);
        }
        int[] rows = {0, 77, 127};
        try (CpuAttentionKernel kernel = new CpuAttentionKernel(2)) {
            AttentionResult want = kernel.forward(c, qkv[0], qkv[1], qkv[2]);
            SyntheticOutput got = kernel.attendSynthetic(c, c.branches(), inputs, start, n, List.of(), rows);
            assertEquals(OutputChecksum.of(want.o(), n * c.rowWidth(), want.lse(), n * c.heads()), got.checksum());
            for (int i = 0; i < rows.length; i++) {
                float[] o = new float[c.rowWidth()];
                want.o().get(rows[i] * c.rowWidth(), o);
                assertArrayEquals(o, java.util.Arrays.copyOfRange(got.sampleO(), i * c.rowWidth(),
                        (i + 1) * c.rowWidth()), "row " + rows[i]);
                assertEquals(want.lse().get(rows[i] * c.heads() + 1), got.sampleLse()[i * c.heads() + 1]);
            }
        }
    }

    private static float[][] generate(DilatedAttentionConfig c, CounterQkv inputs, int n) {
        float[][] qkv = new float[3][n * c.rowWidth()];
        for (int t = 0; t < 3; t++) {
            inputs.fill(t, 0, n, c.heads(), c.headDim(), qkv[t]);
        }
        return qkv;
    }
}
