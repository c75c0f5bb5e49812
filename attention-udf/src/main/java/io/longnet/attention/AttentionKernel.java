package io.longnet.attention;

import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.util.List;
import java.util.Map;

/**
 * A backend that computes dilated attention (docs/ARCHITECTURE.md §1): the CPU kernel here, the GPU kernel of
 * {@code gpu-native} found through {@link java.util.ServiceLoader}. Buffers are in {@code [N][H][d]}
 * order with element 0 at their current position; implementations leave positions unchanged.
 */
public interface AttentionKernel extends AutoCloseable {

    /**
     * The phases a kernel may split its time into ({@link #phaseNanos}): copying the inputs to a device
     * (pinning them included), computing there, copying the results back.
     */
    List<String> PHASES = List.of("to device", "compute", "from device");

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

    /**
     * As {@link #forward(DilatedAttentionConfig, List, FloatBuffer, FloatBuffer, FloatBuffer, int, FloatBuffer,
     * FloatBuffer)}, with q, k, v as 16-bit floats of {@code format} (their bits, e.g. a little-endian view of
     * a file's mapped rows), checked here: the first infinite or NaN value among them is reported by a
     * {@link NonFiniteInputException}, before anything is written. Every result is written; the first one
     * float32 could not hold is returned (null when none), for the caller to refuse or keep. This default
     * widens the inputs on the heap, where a CPU kernel computes anyway; a device kernel uploads the 16 bits,
     * widens them and checks its results there.
     */
    default NonFiniteValue forward(DilatedAttentionConfig config, List<Branch> branches, HalfFloat format,
                                   ShortBuffer q, ShortBuffer k, ShortBuffer v, int n, FloatBuffer o,
                                   FloatBuffer lse) {
        AttentionInputs.requireBranches(config, branches);
        int elems = (int) AttentionInputs.requireForward(config, n, q, k, v, o, lse);
        ShortBuffer[] in = {q, k, v};
        float[][] wide = new float[3][elems];
        for (int t = 0; t < 3; t++) {
            int bad = format.widen(in[t], elems, wide[t], 0);
            if (bad >= 0) {
                throw new NonFiniteInputException(AttentionInputs.QKV.get(t), bad, wide[t][bad]);
            }
        }
        forward(config, branches, FloatBuffer.wrap(wide[0]), FloatBuffer.wrap(wide[1]), FloatBuffer.wrap(wide[2]),
                n, o, lse);
        FloatBuffer results = o.duplicate();
        results.limit(results.position() + elems);
        FloatBuffer lses = lse.duplicate();
        lses.limit(lses.position() + n * config.heads());
        return NonFiniteValue.firstResult(results, lses);
    }

    /**
     * Attention of positions {@code [start, start + n)} of synthetic inputs ({@link CounterQkv}), their results
     * reduced to what a run at scale keeps: {@code branches} as in {@link #forward(DilatedAttentionConfig, List,
     * FloatBuffer, FloatBuffer, FloatBuffer, int, FloatBuffer, FloatBuffer) forward} (position {@code start} the
     * start of a segment of each), then each of {@code gathered} as {@link #attendGathered} merges it; returns the
     * results' {@link OutputChecksum} and rows {@code sampleRows} (block-local). This default makes q, k, v and the
     * results on the heap; a device kernel generates the inputs and reduces the results on the device, so that
     * neither crosses the bus (docs/ARCHITECTURE.md §4, synthetic inputs).
     */
    default SyntheticOutput attendSynthetic(DilatedAttentionConfig config, List<Branch> branches, CounterQkv inputs,
                                            long start, int n, List<GatheredBranch> gathered, int[] sampleRows) {
        AttentionInputs.requireBranches(config, branches);
        int elems = (int) AttentionInputs.elements(config, n);
        SyntheticOutput.requireRows(sampleRows, n);
        float[][] qkv = new float[3][elems];
        for (int t = 0; t < 3; t++) {
            inputs.fill(t, start, n, config.heads(), config.headDim(), qkv[t]);
        }
        FloatBuffer q = FloatBuffer.wrap(qkv[0]);
        FloatBuffer o = FloatBuffer.allocate(elems);
        FloatBuffer lse = FloatBuffer.allocate(n * config.heads());
        forward(config, branches, q, FloatBuffer.wrap(qkv[1]), FloatBuffer.wrap(qkv[2]), n, o, lse);
        for (GatheredBranch g : gathered) {
            attendGathered(config, g.branch(), g.offsetInSegment(), q, n, g.keys(), g.values(), o, lse);
        }
        return SyntheticOutput.of(config, o, lse, n, sampleRows);
    }

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

    /**
     * Nanoseconds spent in each of {@link #PHASES} since this kernel was opened, for a job's breakdown; empty
     * when the kernel does not tell them apart (the CPU's computes only).
     */
    default Map<String, Long> phaseNanos() {
        return Map.of();
    }

    /** Releases threads or device resources. */
    @Override
    void close();
}
