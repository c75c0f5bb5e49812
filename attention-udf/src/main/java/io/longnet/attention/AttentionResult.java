package io.longnet.attention;

import java.nio.FloatBuffer;

/**
 * Output of dilated attention for {@code n} positions: {@code o} holds {@code n * H * d} floats in
 * {@code [N][H][d]} order, {@code lse} holds {@code n * H} floats in {@code [N][H]} order, the log of the
 * mixed softmax denominator that {@link LseMerge} and the backward pass need.
 */
public record AttentionResult(FloatBuffer o, FloatBuffer lse) {

    /** Heap buffers sized for {@code n} positions of {@code config}. */
    public static AttentionResult allocate(DilatedAttentionConfig config, int n) {
        long oSize = (long) n * config.rowWidth();
        if (oSize > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("n * H * d = " + oSize + " floats exceeds one buffer ("
                    + Integer.MAX_VALUE + "): split the sequence into blocks");
        }
        return new AttentionResult(FloatBuffer.allocate((int) oSize),
                FloatBuffer.allocate(n * config.heads()));
    }

    /** Copy of {@code o} as an array (for tests and small results). */
    public float[] oArray() {
        return toArray(o);
    }

    /** Copy of {@code lse} as an array (for tests and small results). */
    public float[] lseArray() {
        return toArray(lse);
    }

    private static float[] toArray(FloatBuffer b) {
        float[] a = new float[b.remaining()];
        b.get(b.position(), a);
        return a;
    }
}
