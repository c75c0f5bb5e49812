package io.longnet.attention;

import java.nio.FloatBuffer;

/**
 * A value float32 could not hold among a kernel's results: {@code o} infinite or NaN, or {@code lse} NaN or
 * +infinity ({@code lse = -infinity} is a row no head of any branch selects, whose {@code o} is 0). Finite
 * inputs give such results only when {@code q·k} (or the sum of weighted values) overflows.
 *
 * @param tensor  {@code o} or {@code lse}
 * @param element its index from element 0 of the buffer the kernel wrote
 * @param value   the value
 */
public record NonFiniteValue(String tensor, long element, float value) {

    /** The first such value of {@code o}, else of {@code lse} (both from their positions); null when none. */
    public static NonFiniteValue firstResult(FloatBuffer o, FloatBuffer lse) {
        int at = first(o, false);
        if (at >= 0) {
            return new NonFiniteValue("o", at, o.get(o.position() + at));
        }
        at = first(lse, true);
        return at < 0 ? null : new NonFiniteValue("lse", at, lse.get(lse.position() + at));
    }

    private static int first(FloatBuffer values, boolean negativeInfinityAllowed) {
        int base = values.position();
        int n = values.remaining();
        for (int i = 0; i < n; i++) {
            float v = values.get(base + i);
            if (!Float.isFinite(v) && !(negativeInfinityAllowed && v == Float.NEGATIVE_INFINITY)) {
                return i;
            }
        }
        return -1;
    }
}
