package io.longnet.tensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.FloatBuffer;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class TensorChecksTest {

    private static final long[] SHAPE = {200, 8, 20};

    /** Elements [first, first + n) of a random non-zero tensor, placed at position 5 of a buffer. */
    private static FloatBuffer window(SplittableRandom rnd, int n) {
        FloatBuffer b = FloatBuffer.allocate(n + 10);
        for (int i = 0; i < b.capacity(); i++) {
            b.put(i, (float) rnd.nextGaussian() + 3f);
        }
        // Bad values outside [position, limit) must be ignored.
        b.put(0, Float.NaN);
        b.put(n + 7, Float.POSITIVE_INFINITY);
        b.position(5).limit(5 + n);
        return b;
    }

    @Test
    void namesTheIndexOfTheFirstNaN() {
        SplittableRandom rnd = new SplittableRandom(11);
        long first = 19_000;
        FloatBuffer b = window(rnd, 1000);
        long bad = 123 * 160 + 4 * 20 + 17; // [123, 4, 17] row-major
        b.put(5 + (int) (bad - first), Float.NaN);
        b.put(5 + (int) (bad - first) + 3, Float.NEGATIVE_INFINITY);
        TensorFormatException e = assertThrows(TensorFormatException.class,
                () -> TensorChecks.requireFinite("in.safetensors", "q", b, first, SHAPE));
        assertEquals("file in.safetensors: tensor 'q' holds NaN at [123, 4, 17]", e.getMessage());
        assertEquals(5, b.position());
    }

    @Test
    void findsInfinityAtRandomPlaces() {
        long seed = 12;
        SplittableRandom rnd = new SplittableRandom(seed);
        for (int trial = 0; trial < 50; trial++) {
            int n = rnd.nextInt(1, 3000);
            long first = rnd.nextLong(0, 200 * 8 * 20 - n + 1);
            FloatBuffer b = window(rnd, n);
            int at = rnd.nextInt(n);
            b.put(5 + at, Float.NEGATIVE_INFINITY);
            // Reference index by counting through the shape in row-major order.
            long target = first + at;
            long[] expected = null;
            long flat = 0;
            for (long i = 0; i < 200 && expected == null; i++) {
                for (long j = 0; j < 8 && expected == null; j++) {
                    for (long k = 0; k < 20; k++, flat++) {
                        if (flat == target) {
                            expected = new long[] {i, j, k};
                            break;
                        }
                    }
                }
            }
            assertArrayEquals(expected, TensorChecks.unravel(target, SHAPE), "seed " + seed + ", trial " + trial);
            TensorFormatException e = assertThrows(TensorFormatException.class,
                    () -> TensorChecks.requireFinite("f", "k", b, first, SHAPE));
            assertEquals("file f: tensor 'k' holds -Infinity at " + TensorInfo.format(expected), e.getMessage(),
                    "seed " + seed + ", trial " + trial);
        }
    }

    @Test
    void acceptsFiniteValuesAndChecksTheWindow() {
        FloatBuffer b = window(new SplittableRandom(13), 500);
        TensorChecks.requireFinite("f", "k", b, 0, SHAPE);
        TensorChecks.requireFinite("f", "k", b, 32_000 - 500, SHAPE);
        assertEquals(5, b.position());
        assertThrows(IllegalArgumentException.class, () -> TensorChecks.requireFinite("f", "k", b, 32_000 - 499, SHAPE));
        assertThrows(IllegalArgumentException.class, () -> TensorChecks.requireFinite("f", "k", b, -1, SHAPE));
        TensorChecks.requireFinite("f", "s", FloatBuffer.wrap(new float[] {1f}), 0, new long[0]);
    }
}
