package io.longnet.attention;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.FloatBuffer;
import java.util.List;
import org.junit.jupiter.api.Test;

class CounterQkvTest {

    /** splitmix64's first output from state 0 is 0xE220A8397B1DCDAF: the key-0 step of seed 0 is that step. */
    @Test
    void theHashIsSplitmix64() {
        assertEquals(0xE220A8397B1DCDAFL, CounterQkv.mix(0, 0));
        assertEquals(0x6E789E6AA1B965F4L, CounterQkv.mix(0, 1), "splitmix64's second output");
    }

    @Test
    void valuesLieOnTheirPrecisionsGridAndDependOnEveryPartOfTheKey() {
        CounterQkv bf16 = CounterQkv.of(7, true);
        CounterQkv fp32 = CounterQkv.of(7, false);
        double sum = 0;
        int distinct = 0;
        float last = Float.NaN;
        for (long p = 0; p < 4096; p++) {
            float b = bf16.value(CounterQkv.V, p, 3, 5);
            float f = fp32.value(CounterQkv.V, p, 3, 5);
            assertTrue(b >= -1 && b < 1 && f >= -1 && f < 1, b + " " + f);
            assertEquals(0, Float.floatToRawIntBits(b) & 0xFFFF, "bf16 holds " + b + " exactly");
            assertEquals(b * 128, Math.rint(b * 128), "a multiple of 1/128: " + b);
            assertEquals(f * 0x1p23f, Math.rint(f * 0x1p23f), "a multiple of 2^-23: " + f);
            sum += f;
            distinct += f != last ? 1 : 0;
            last = f;
        }
        assertTrue(Math.abs(sum / 4096) < 0.05, "mean near 0: " + sum / 4096);
        assertTrue(distinct > 4000, "values vary: " + distinct);
        float v = fp32.value(CounterQkv.K, 100, 2, 3);
        assertNotEquals(v, fp32.value(CounterQkv.Q, 100, 2, 3), "tensor");
        assertNotEquals(v, fp32.value(CounterQkv.K, 101, 2, 3), "position");
        assertNotEquals(v, fp32.value(CounterQkv.K, 100, 1, 3), "head");
        assertNotEquals(v, fp32.value(CounterQkv.K, 100, 2, 4), "channel");
        assertNotEquals(v, CounterQkv.of(8, false).value(CounterQkv.K, 100, 2, 3), "seed");
        assertEquals(v, CounterQkv.of(7, false).value(CounterQkv.K, 100, 2, 3), "nothing else");
    }

    @Test
    void rowsAreTheSelectedRowsOfTheFilledBlock() {
        CounterQkv inputs = CounterQkv.of(3, false);
        int heads = 3;
        int d = 4;
        long start = 1L << 33;
        float[] block = new float[50 * heads * d];
        inputs.fill(CounterQkv.K, start, 50, heads, d, block);
        DilatedSelection sel = DilatedSelection.of(7, 50, 2, 5);
        for (int h = 0; h < heads; h++) {
            assertArrayEquals(sel.gather(FloatBuffer.wrap(block), heads, d, h),
                    inputs.rows(CounterQkv.K, start + sel.firstRow(), 5, sel.count(), h, d), "head " + h);
        }
    }

    @Test
    void sizesBeyondThePackedKeyAreRefused() {
        DilatedAttentionConfig c = DilatedAttentionConfig.of(List.of(new Branch(16, 1)), 2048, 8, false);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CounterQkv.requireFits(c, 16));
        assertEquals("synthetic inputs cover at most 2^40 positions, 1024 heads and head width 1024 (got N=16, H=2048,"
                + " d=8)", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new CounterQkv(0, 25));
    }

    @Test
    void checksumsAreExactAndIndependentOfOrder() {
        float[] o = {0.5f, -0.25f, 1e-9f, 3f};
        float[] reversed = {3f, 1e-9f, -0.25f, 0.5f};
        float[] lse = {2f, -1f};
        OutputChecksum a = OutputChecksum.of(FloatBuffer.wrap(o), 4, FloatBuffer.wrap(lse), 2);
        assertEquals(a, OutputChecksum.of(FloatBuffer.wrap(reversed), 4, FloatBuffer.wrap(lse, 0, 2).slice(), 2));
        assertEquals(new OutputChecksum((long) (3.25 * (1 << 24)), 1L << 24), a, "1e-9 rounds to 0 on the grid");
        OutputChecksum halves = OutputChecksum.of(FloatBuffer.wrap(o, 0, 2).slice(), 2, FloatBuffer.wrap(lse), 1)
                .plus(OutputChecksum.of(FloatBuffer.wrap(o, 2, 2).slice(), 2, FloatBuffer.wrap(lse, 1, 1).slice(), 1));
        assertEquals(a, halves);
    }
}
