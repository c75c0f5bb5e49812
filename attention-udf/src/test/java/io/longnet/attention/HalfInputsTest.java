package io.longnet.attention;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** 16-bit inputs: their widening, and the kernel SPI's default path for them. */
class HalfInputsTest {

    /** Every bit pattern widens as the scalar conversion does, and the first non-finite one is found. */
    @ParameterizedTest
    @EnumSource(HalfFloat.class)
    void bulkWideningIsTheScalarOneForEveryBitPattern(HalfFloat format) {
        ShortBuffer all = ShortBuffer.allocate(1 << 16);
        for (int bits = 0; bits < 1 << 16; bits++) {
            all.put(bits, (short) bits);
        }
        float[] wide = new float[1 << 16];
        int firstBad = format.widen(all, 1 << 16, wide, 0);
        int want = -1;
        for (int bits = 0; bits < 1 << 16; bits++) {
            float scalar = format.toFloat(bits);
            assertEquals(Float.floatToRawIntBits(scalar), Float.floatToRawIntBits(wide[bits]), "bits " + bits);
            if (want < 0 && !Float.isFinite(scalar)) {
                want = bits;
            }
        }
        assertEquals(want, firstBad);
        assertEquals(format == HalfFloat.F16 ? 0x7C00 : 0x7F80, firstBad, "+infinity is the first non-finite");
    }

    @Test
    void knownValues() {
        assertEquals(1.0f, HalfFloat.F16.toFloat(0x3C00));
        assertEquals(-2.0f, HalfFloat.F16.toFloat(0xC000));
        assertEquals(0x1p-24f, HalfFloat.F16.toFloat(0x0001));
        assertEquals(65504f, HalfFloat.F16.toFloat(0x7BFF));
        assertEquals(1.0f, HalfFloat.BF16.toFloat(0x3F80));
        assertEquals(-0.5f, HalfFloat.BF16.toFloat(0xBF00));
    }

    /** The default path widens and computes what the float path computes, bit for bit, into direct buffers. */
    @ParameterizedTest
    @EnumSource(HalfFloat.class)
    void halfInputsGiveWhatTheirFloatsGive(HalfFloat format) {
        DilatedAttentionConfig c = DilatedAttentionConfig.of(Branch.parseList("16:1,32:2,64:4"), 3, 8, true);
        int n = 200;
        int elems = n * c.rowWidth();
        SplittableRandom rnd = new SplittableRandom(5);
        ShortBuffer[] half = new ShortBuffer[3];
        float[][] wide = new float[3][elems];
        for (int t = 0; t < 3; t++) {
            half[t] = ByteBuffer.allocateDirect(elems * 2).order(ByteOrder.LITTLE_ENDIAN).asShortBuffer();
            for (int i = 0; i < elems; i++) {
                // Random bits of small magnitude: sign, exponent near 1, any mantissa.
                int bits = format == HalfFloat.F16 ? 0x3800 | rnd.nextInt(0x0800) | (rnd.nextBoolean() ? 0x8000 : 0)
                        : 0x3F00 | rnd.nextInt(0x0100) | (rnd.nextBoolean() ? 0x8000 : 0);
                half[t].put(i, (short) bits);
                wide[t][i] = format.toFloat(bits);
            }
        }
        FloatBuffer o = ByteBuffer.allocateDirect(elems * 4).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
        FloatBuffer lse = ByteBuffer.allocateDirect(n * c.heads() * 4).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
        try (CpuAttentionKernel kernel = new CpuAttentionKernel(2)) {
            assertNull(kernel.forward(c, c.branches(), format, half[0], half[1], half[2], n, o, lse));
            AttentionResult want = kernel.forward(c, wide[0], wide[1], wide[2]);
            float[] got = new float[elems];
            o.get(0, got);
            assertArrayEquals(want.oArray(), got);
            float[] gotLse = new float[n * c.heads()];
            lse.get(0, gotLse);
            assertArrayEquals(want.lseArray(), gotLse);
        }
    }

    @Test
    void aNonFiniteInputIsNamedBeforeAnythingIsWritten() {
        DilatedAttentionConfig c = DilatedAttentionConfig.of(Branch.parseList("8:1"), 2, 4, false);
        int n = 16;
        int elems = n * c.rowWidth();
        ShortBuffer q = ShortBuffer.allocate(elems);
        ShortBuffer k = ShortBuffer.allocate(elems);
        ShortBuffer v = ShortBuffer.allocate(elems);
        v.put(77, (short) 0x7E00); // NaN
        v.put(90, (short) 0x7C00); // +infinity, later
        FloatBuffer o = FloatBuffer.allocate(elems);
        o.put(0, 42f);
        try (CpuAttentionKernel kernel = new CpuAttentionKernel(1)) {
            NonFiniteInputException e = assertThrows(NonFiniteInputException.class, () -> kernel.forward(c,
                    c.branches(), HalfFloat.F16, q, k, v, n, o, FloatBuffer.allocate(n * c.heads())));
            assertEquals("v", e.tensor());
            assertEquals(77, e.element());
            assertEquals(Float.NaN, e.value());
            assertEquals(42f, o.get(0), "o untouched");
        }
    }

    /** q·k overflowing float32 gives NaN or infinite results; the call writes them and returns the first. */
    @Test
    void overflowingResultsAreReturned() {
        DilatedAttentionConfig c = DilatedAttentionConfig.of(Branch.parseList("8:1"), 1, 4, false);
        int n = 8;
        int elems = n * c.rowWidth();
        ShortBuffer big = ShortBuffer.allocate(elems);
        for (int i = 0; i < elems; i++) {
            big.put(i, (short) 0x7F00); // bf16 of about 1.7e38: q·k overflows
        }
        FloatBuffer o = FloatBuffer.allocate(elems);
        FloatBuffer lse = FloatBuffer.allocate(n);
        try (CpuAttentionKernel kernel = new CpuAttentionKernel(1)) {
            NonFiniteValue bad = kernel.forward(c, c.branches(), HalfFloat.BF16, big, big, big, n, o, lse);
            assertEquals("o", bad.tensor());
            assertEquals(0, bad.element());
            assertEquals(bad.value(), o.get(0));
        }
    }

    @Test
    void firstResultFindsOThenLseAndKeepsNegativeInfinityOfLse() {
        FloatBuffer o = FloatBuffer.wrap(new float[] {1, 2, 3, 4});
        FloatBuffer lse = FloatBuffer.wrap(new float[] {Float.NEGATIVE_INFINITY, 0});
        assertNull(NonFiniteValue.firstResult(o, lse));
        lse.put(1, Float.POSITIVE_INFINITY);
        assertEquals(new NonFiniteValue("lse", 1, Float.POSITIVE_INFINITY), NonFiniteValue.firstResult(o, lse));
        o.put(2, Float.NaN);
        o.put(3, Float.NEGATIVE_INFINITY);
        assertEquals(new NonFiniteValue("o", 2, Float.NaN), NonFiniteValue.firstResult(o, lse));
        o.position(3);
        assertEquals(new NonFiniteValue("o", 0, Float.NEGATIVE_INFINITY), NonFiniteValue.firstResult(o, lse),
                "counted from the position");
    }
}
