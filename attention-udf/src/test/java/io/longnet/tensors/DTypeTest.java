package io.longnet.tensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class DTypeTest {

    /** IEEE binary16 value of a bit pattern, from the definition, in double. */
    private static double halfReference(int h) {
        int sign = (h >>> 15) & 1;
        int exp = (h >>> 10) & 0x1F;
        int mant = h & 0x3FF;
        double v;
        if (exp == 0x1F) {
            v = mant == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
        } else if (exp == 0) {
            v = Math.scalb((double) mant, -24);
        } else {
            v = Math.scalb(1.0 + mant / 1024.0, exp - 15);
        }
        return sign == 1 ? -v : v;
    }

    /**
     * Round-to-nearest-even of {@code x} to a binary format with {@code p} significant bits, minimum
     * normal exponent {@code emin} and largest finite value {@code max}, computed in double: the grid
     * spacing is a power of two, so {@code x / spacing} is exact and {@link Math#rint} rounds half to even.
     */
    private static float roundReference(float x, int p, int emin, double max) {
        double a = Math.abs((double) x);
        int e = Math.max(Math.getExponent(a), emin);
        double spacing = Math.scalb(1.0, e - (p - 1));
        double r = Math.rint(a / spacing) * spacing;
        // Overflow: everything from max + half a spacing of the top binade on rounds to infinity.
        double topSpacing = Math.scalb(1.0, Math.getExponent(max) - (p - 1));
        if (r > max || a >= max + topSpacing / 2) {
            r = Double.POSITIVE_INFINITY;
        }
        return (float) Math.copySign(r, x);
    }

    private static float randomFloat(SplittableRandom rnd, int minExp, int maxExp) {
        int e = rnd.nextInt(minExp, maxExp + 1);
        float v = Math.scalb((float) (1 + rnd.nextDouble()), e);
        if (rnd.nextBoolean()) {
            v = -v;
        }
        // Now and then an exact tie or a value on the grid, where rounding mistakes show.
        if (rnd.nextInt(4) == 0) {
            int bits = Float.floatToRawIntBits(v);
            v = Float.intBitsToFloat((bits & ~0xFFFF) | (rnd.nextBoolean() ? 0x8000 : 0x1000));
        }
        return v;
    }

    @Test
    void knownHalfBitPatterns() {
        assertEquals(1.0f, DType.halfToFloat(0x3C00));
        assertEquals(-2.0f, DType.halfToFloat(0xC000));
        assertEquals(Float.POSITIVE_INFINITY, DType.halfToFloat(0x7C00));
        assertEquals(Float.NEGATIVE_INFINITY, DType.halfToFloat(0xFC00));
        assertTrue(Float.isNaN(DType.halfToFloat(0x7E00)));
        assertTrue(Float.isNaN(DType.halfToFloat(0x7C01)));
        assertEquals(0x1p-24f, DType.halfToFloat(0x0001));
        assertEquals(1023 * 0x1p-24f, DType.halfToFloat(0x03FF));
        assertEquals(0x1p-14f, DType.halfToFloat(0x0400));
        assertEquals(65504f, DType.halfToFloat(0x7BFF));
        assertEquals(0x80000000, Float.floatToRawIntBits(DType.halfToFloat(0x8000)));

        assertEquals((short) 0x3C00, DType.floatToHalf(1.0f));
        assertEquals((short) 0x0001, DType.floatToHalf(0x1p-24f));
        assertEquals((short) 0x7BFF, DType.floatToHalf(65504f));
        assertEquals((short) 0x7BFF, DType.floatToHalf(Math.nextDown(65520f)));
        assertEquals((short) 0x7C00, DType.floatToHalf(65520f));           // tie goes to even: infinity
        assertEquals((short) 0xFC00, DType.floatToHalf(-1e10f));
        assertEquals((short) 0x0000, DType.floatToHalf(0x1p-25f));          // tie between 0 and 2^-24
        assertEquals((short) 0x0001, DType.floatToHalf(Math.nextUp(0x1p-25f)));
        assertEquals((short) 0x0002, DType.floatToHalf(3 * 0x1p-25f));      // 1.5 units: to even 2
        assertEquals((short) 0x0002, DType.floatToHalf(5 * 0x1p-25f));      // 2.5 units: to even 2
        assertEquals((short) 0x0400, DType.floatToHalf(Math.nextDown(0x1p-14f))); // carries into normal
        assertEquals((short) 0x3C00, DType.floatToHalf(1 + 0x1p-11f));      // tie, even below
        assertEquals((short) 0x3C02, DType.floatToHalf(1 + 3 * 0x1p-11f));  // tie, even above
        assertEquals((short) 0x8000, DType.floatToHalf(-0.0f));
        assertTrue(Float.isNaN(DType.halfToFloat(DType.floatToHalf(Float.NaN))));
        assertTrue(Float.isNaN(DType.halfToFloat(DType.floatToHalf(Float.intBitsToFloat(0x7F800001)))));
    }

    @Test
    void knownBf16BitPatterns() {
        assertEquals(1.0f, DType.bf16ToFloat(0x3F80));
        assertEquals(-2.0f, DType.bf16ToFloat(0xC000));
        assertEquals(3.140625f, DType.bf16ToFloat(0x4049));
        assertEquals(Float.POSITIVE_INFINITY, DType.bf16ToFloat(0x7F80));
        assertTrue(Float.isNaN(DType.bf16ToFloat(0x7FC0)));
        assertEquals(0x1p-133f, DType.bf16ToFloat(0x0001));

        assertEquals((short) 0x3F80, DType.floatToBf16(1.0f));
        assertEquals((short) 0x3F80, DType.floatToBf16(1 + 0x1p-8f));      // tie, even below
        assertEquals((short) 0x3F82, DType.floatToBf16(1 + 3 * 0x1p-8f));  // tie, even above
        assertEquals((short) 0x4049, DType.floatToBf16((float) Math.PI));
        assertEquals((short) 0x7F80, DType.floatToBf16(Float.MAX_VALUE));  // rounds past the largest bf16
        // A NaN whose payload sits only in the low 16 bits must not become infinity.
        assertTrue(Float.isNaN(DType.bf16ToFloat(DType.floatToBf16(Float.intBitsToFloat(0x7F800001)))));
        assertTrue(Float.isNaN(DType.bf16ToFloat(DType.floatToBf16(Float.intBitsToFloat(0xFF800001)))));
    }

    @Test
    void halfToFloatMatchesTheDefinitionForAllPatterns() {
        for (int h = 0; h < 0x10000; h++) {
            double expected = halfReference(h);
            float actual = DType.halfToFloat(h);
            if (Double.isNaN(expected)) {
                assertTrue(Float.isNaN(actual), "half 0x" + Integer.toHexString(h));
            } else {
                assertEquals(Double.doubleToRawLongBits(expected), Double.doubleToRawLongBits(actual),
                        "half 0x" + Integer.toHexString(h));
                // Representable values round-trip exactly, bit for bit (signed zeros included).
                assertEquals((short) h, DType.floatToHalf(actual), "half 0x" + Integer.toHexString(h));
            }
        }
    }

    @Test
    void bf16RoundTripsAllPatterns() {
        for (int b = 0; b < 0x10000; b++) {
            float v = DType.bf16ToFloat(b);
            if (!Float.isNaN(v)) {
                assertEquals((short) b, DType.floatToBf16(v), "bf16 0x" + Integer.toHexString(b));
            }
        }
    }

    @Test
    void narrowingRoundsToNearestEven() {
        long seed = 20240901;
        SplittableRandom rnd = new SplittableRandom(seed);
        for (int i = 0; i < 200_000; i++) {
            float x = randomFloat(rnd, -27, 16);
            float half = roundReference(x, 11, -14, 65504.0);
            assertEquals(half, DType.halfToFloat(DType.floatToHalf(x)), "seed " + seed + ", F16 of " + x);
            float y = randomFloat(rnd, -135, 127);
            float bf = roundReference(y, 8, -126, Math.scalb(255.0, 120));
            assertEquals(bf, DType.bf16ToFloat(DType.floatToBf16(y)), "seed " + seed + ", BF16 of " + y);
        }
    }

    @Test
    void parse() {
        assertEquals(DType.F32, DType.parse("F32"));
        assertEquals(DType.F16, DType.parse("F16"));
        assertEquals(DType.BF16, DType.parse("BF16"));
        assertEquals(4, DType.F32.bytes());
        assertEquals(2, DType.F16.bytes());
        assertEquals(2, DType.BF16.bytes());
        assertEquals(DType.F64, DType.parse("F64"));
        assertEquals(8, DType.F64.bytes());
        TensorFormatException e = assertThrows(TensorFormatException.class, () -> DType.parse("I64"));
        assertEquals("unsupported dtype 'I64' (supported: F32, F16, BF16, F64)", e.getMessage());
        e = assertThrows(TensorFormatException.class, () -> DType.parse("m.safetensors", "q", "I64"));
        assertEquals("file m.safetensors: tensor 'q': unsupported dtype 'I64' (supported: F32, F16, BF16, F64)",
                e.getMessage());
        assertEquals("q", e.tensor());
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void heapAndDirectBuffersConvertAlike(DType dtype) {
        SplittableRandom rnd = new SplittableRandom(7);
        float[] values = new float[37];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) rnd.nextGaussian() + 0.01f;
        }
        byte[] bytes = new byte[3 + values.length * dtype.bytes()];
        // Heap source with a non-zero array offset and position.
        FloatBuffer src = FloatBuffer.wrap(new float[values.length + 5], 2, values.length + 3).slice();
        src.position(1);
        src.duplicate().put(values);
        dtype.encode(src, values.length, bytes, 3);
        assertEquals(values.length + 1, src.position());

        FloatBuffer heap = FloatBuffer.wrap(new float[values.length + 4], 1, values.length + 3).slice();
        heap.position(2);
        dtype.decode(bytes, 3, values.length, heap);
        assertEquals(values.length + 2, heap.position());
        FloatBuffer direct = ByteBuffer.allocateDirect(4 * (values.length + 2)).asFloatBuffer();
        direct.position(2);
        dtype.decode(bytes, 3, values.length, direct);
        assertEquals(values.length + 2, direct.position());

        float[] a = new float[values.length];
        float[] b = new float[values.length];
        heap.position(2);
        heap.get(a);
        direct.position(2);
        direct.get(b);
        assertArrayEquals(a, b);
        for (int i = 0; i < values.length; i++) {
            float expected = switch (dtype) {
                case F32, F64 -> values[i];
                case F16 -> roundReference(values[i], 11, -14, 65504.0);
                case BF16 -> roundReference(values[i], 8, -126, Math.scalb(255.0, 120));
            };
            assertEquals(expected, a[i], dtype + " element " + i);
        }
    }

    /**
     * The bulk path from a direct buffer (what files are read into) against the definition, for every
     * binary16 and bfloat16 bit pattern: exact, signed zeros and NaN payloads included, into heap and
     * direct destinations alike; and equal to the byte[] path for every dtype.
     */
    @Test
    void bulkDecodeFromDirectBuffersIsExactForEveryBitPattern() {
        ByteBuffer src = ByteBuffer.allocateDirect(2 << 16).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (int h = 0; h < 1 << 16; h++) {
            src.putShort((short) h);
        }
        for (boolean directDst : new boolean[] {false, true}) {
            FloatBuffer half = directDst ? ByteBuffer.allocateDirect(4 << 16).asFloatBuffer() : FloatBuffer.allocate(1 << 16);
            FloatBuffer bf16 = directDst ? ByteBuffer.allocateDirect(4 << 16).asFloatBuffer() : FloatBuffer.allocate(1 << 16);
            DType.F16.decode(src.clear(), 1 << 16, half);
            assertEquals(2 << 16, src.position(), "source advanced");
            DType.BF16.decode(src.clear(), 1 << 16, bf16);
            assertEquals(1 << 16, half.position(), "destination advanced");
            for (int h = 0; h < 1 << 16; h++) {
                int got = Float.floatToRawIntBits(half.get(h));
                int exp = (h >>> 10) & 0x1F;
                int want = exp == 0x1F && (h & 0x3FF) != 0
                        ? (h & 0x8000) << 16 | 0x7F800000 | (h & 0x3FF) << 13   // NaN: payload kept
                        : Float.floatToRawIntBits((float) halfReference(h));
                assertEquals(want, got, "F16 " + Integer.toHexString(h));
                assertEquals(h << 16, Float.floatToRawIntBits(bf16.get(h)), "BF16 " + Integer.toHexString(h));
            }
        }
        SplittableRandom rnd = new SplittableRandom(41);
        System.out.println("DTypeTest bulk decode seed 41");
        byte[] bytes = new byte[8 * 1000 + 3];
        rnd.nextBytes(bytes);
        for (DType t : DType.values()) {
            int count = 1000;
            float[] viaArray = new float[count];
            t.decode(bytes, 3, count, FloatBuffer.wrap(viaArray));
            ByteBuffer direct = ByteBuffer.allocateDirect(bytes.length).put(bytes).flip().position(3);
            float[] viaBuffer = new float[count];
            t.decode(direct, count, FloatBuffer.wrap(viaBuffer));
            for (int i = 0; i < count; i++) {
                assertEquals(Float.floatToRawIntBits(viaArray[i]), Float.floatToRawIntBits(viaBuffer[i]), t + " " + i);
            }
            assertEquals(3 + count * t.bytes(), direct.position(), t + ": source advanced");
        }
    }
}
