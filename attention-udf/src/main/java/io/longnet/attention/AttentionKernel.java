package io.longnet.attention;

import java.nio.FloatBuffer;

/**
 * A backend that computes dilated attention (DESIGN.md §1): the CPU kernel here, the GPU kernel of
 * {@code gpu-native} found through {@link java.util.ServiceLoader}. Buffers are in {@code [N][H][d]}
 * order with element 0 at their current position; implementations leave positions unchanged.
 */
public interface AttentionKernel extends AutoCloseable {

    /** Short name for logs and the CLI, e.g. {@code cpu}. */
    String name();

    /**
     * Writes {@code o} ({@code n * H * d} floats) and {@code lse} ({@code n * H} floats) for {@code n}
     * positions of {@code q}, {@code k}, {@code v}.
     */
    void forward(DilatedAttentionConfig config, FloatBuffer q, FloatBuffer k, FloatBuffer v, int n,
                 FloatBuffer o, FloatBuffer lse);

    /** Computes into freshly allocated heap buffers. */
    default AttentionResult forward(DilatedAttentionConfig config, FloatBuffer q, FloatBuffer k,
                                    FloatBuffer v, int n) {
        AttentionResult result = AttentionResult.allocate(config, n);
        forward(config, q, k, v, n, result.o(), result.lse());
        return result;
    }

    /** Convenience for heap arrays in {@code [N][H][d]} order; {@code n} is taken from their length. */
    default AttentionResult forward(DilatedAttentionConfig config, float[] q, float[] k, float[] v) {
        int width = config.rowWidth();
        if (q.length % width != 0) {
            throw new IllegalArgumentException("q holds " + q.length + " floats, not a multiple of H*d = "
                    + width);
        }
        return forward(config, FloatBuffer.wrap(q), FloatBuffer.wrap(k), FloatBuffer.wrap(v),
                q.length / width);
    }

    /** Releases threads or device resources. */
    @Override
    void close();

    /** Checks buffer sizes for {@code n} positions; shared by all backends. */
    static void checkShapes(DilatedAttentionConfig config, FloatBuffer q, FloatBuffer k, FloatBuffer v,
                            int n, FloatBuffer o, FloatBuffer lse) {
        if (n < 1) {
            throw new IllegalArgumentException("sequence length must be >= 1 (got " + n + ")");
        }
        long elems = (long) n * config.rowWidth();
        if (elems > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("n * H * d = " + elems + " floats exceeds one buffer ("
                    + Integer.MAX_VALUE + "): split the sequence into blocks (the Spark plan does)");
        }
        LseMerge.requireFloats("q", q, elems);
        LseMerge.requireFloats("k", k, elems);
        LseMerge.requireFloats("v", v, elems);
        LseMerge.requireFloats("o", o, elems);
        LseMerge.requireFloats("lse", lse, (long) n * config.heads());
    }
}
