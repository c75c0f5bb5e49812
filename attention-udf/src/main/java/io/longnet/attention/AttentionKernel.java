package io.longnet.attention;

import java.nio.FloatBuffer;
import java.util.List;

/**
 * A backend that computes dilated attention (docs/ARCHITECTURE.md §1): the CPU kernel here, the GPU kernel of
 * {@code gpu-native} found through {@link java.util.ServiceLoader}. Buffers are in {@code [N][H][d]}
 * order with element 0 at their current position; implementations leave positions unchanged.
 */
public interface AttentionKernel extends AutoCloseable {

    /** Short name for logs and the CLI, e.g. {@code cpu}. */
    String name();

    /**
     * Writes {@code o} ({@code n * H * d} floats) and {@code lse} ({@code n * H} floats) for {@code n}
     * positions of {@code q}, {@code k}, {@code v}, mixing only {@code branches} (a subset of the
     * config's, in its order; possibly empty, which gives {@code o = 0, lse = -inf}). Position 0 is the
     * start of a segment of every branch. The distributed plan passes the branches whose segments lie
     * inside its block and adds the others through {@link #attendGathered}.
     */
    void forward(DilatedAttentionConfig config, List<Branch> branches, FloatBuffer q, FloatBuffer k,
                 FloatBuffer v, int n, FloatBuffer o, FloatBuffer lse);

    /**
     * Merges into {@code o}, {@code lse} one branch's attention of the {@code n} positions of {@code q}
     * (a partition's rows lying inside one segment, starting {@code offsetInSegment} positions into it) to keys and
     * values gathered from the partitions that segment spans: {@code keys.get(h)}, {@code values.get(h)}
     * hold rows {@code t = 0, 1, ...} of head {@code h}'s sparsified segment, {@code d} floats each (when
     * causal, at least up to the partition's last selected row).
     */
    void attendGathered(DilatedAttentionConfig config, Branch branch, int offsetInSegment, FloatBuffer q,
                        int n, List<FloatBuffer> keys, List<FloatBuffer> values, FloatBuffer o,
                        FloatBuffer lse);

    /** All branches of the config: the whole of dilated attention in one process. */
    default void forward(DilatedAttentionConfig config, FloatBuffer q, FloatBuffer k, FloatBuffer v, int n,
                         FloatBuffer o, FloatBuffer lse) {
        forward(config, config.branches(), q, k, v, n, o, lse);
    }

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
}
