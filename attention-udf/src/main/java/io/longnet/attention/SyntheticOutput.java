package io.longnet.attention;

import java.nio.FloatBuffer;

/**
 * What attention on synthetic inputs keeps of one block's results ({@link AttentionKernel#attendSynthetic}):
 * their checksum and the rows asked for, o ({@code rows * H * d} floats) and lse ({@code rows * H}) in the order
 * asked.
 */
public record SyntheticOutput(OutputChecksum checksum, float[] sampleO, float[] sampleLse) {

    /** Checks block-local row indices {@code rows} against a block of {@code n} positions. */
    public static void requireRows(int[] rows, int n) {
        for (int r : rows) {
            if (r < 0 || r >= n) {
                throw new IllegalArgumentException("sampled row " + r + " is outside the block's " + n + " positions");
            }
        }
    }

    /** The checksum and sampled rows of {@code n} positions' {@code o} and {@code lse} (element 0 at their positions). */
    public static SyntheticOutput of(DilatedAttentionConfig config, FloatBuffer o, FloatBuffer lse, int n, int[] rows) {
        int width = config.rowWidth();
        int heads = config.heads();
        float[] so = new float[rows.length * width];
        float[] sl = new float[rows.length * heads];
        for (int i = 0; i < rows.length; i++) {
            o.get(o.position() + rows[i] * width, so, i * width, width);
            lse.get(lse.position() + rows[i] * heads, sl, i * heads, heads);
        }
        return new SyntheticOutput(OutputChecksum.of(o, n * width, lse, n * heads), so, sl);
    }
}
