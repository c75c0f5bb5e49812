package io.longnet.attention;

import java.nio.FloatBuffer;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The steps of {@link SegmentTileAttention} in explicit SIMD (the JDK's Vector API). Created only when
 * {@link VectorApi#available()}.
 *
 * <p>Why it is faster than the scalar twin, whose axpys HotSpot also vectorises: those load and store a
 * row of scores or of the accumulator for every multiply-add. Here a block of 4 keys (or 4 channels) by 2
 * vectors of queries stays in 8 registers through the whole reduction, so each step is 8 fused
 * multiply-adds for 2 vector loads and 4 broadcasts, and the exponential is vectorised with its exponent
 * step. The tiles are flat arrays, queries innermost for q, the scores and the accumulator, so that every
 * index in an inner loop is linear in its counter and HotSpot hoists the bounds checks.
 *
 * <p>Every lane performs the scalar twin's operations in the same order (the same fused multiply-adds over
 * channels, then over keys; the same exponential), so results are bit for bit the same. Lanes past the
 * block's last query compute on stale rows and are never read.
 */
final class SimdTileAttention extends SegmentTileAttention {

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Queries per register block: two vectors; {@link #TILE_Q} is a multiple of it. */
    private static final int STEP = 2 * L;
    private static final int Q = TILE_Q;
    private static final int K = TILE_K;
    /** {@link #ROWS} lanes, whatever {@code L} is: the squares {@link #transpose} turns. */
    private static final VectorSpecies<Float> R = VectorSpecies.of(float.class,
            VectorShape.forBitSize(ROWS * Float.SIZE));
    /** The transpose's rounds: lanes swapped in pairs 1, 2 and 4 apart, and the lanes each round takes from the partner row. */
    private static final VectorShuffle<Float> SWAP1 = VectorShuffle.fromValues(R, 1, 0, 3, 2, 5, 4, 7, 6);
    private static final VectorShuffle<Float> SWAP2 = VectorShuffle.fromValues(R, 2, 3, 0, 1, 6, 7, 4, 5);
    private static final VectorShuffle<Float> SWAP4 = VectorShuffle.fromValues(R, 4, 5, 6, 7, 0, 1, 2, 3);
    private static final VectorMask<Float> ODD1 = VectorMask.fromValues(R, false, true, false, true, false, true, false, true);
    private static final VectorMask<Float> ODD2 = VectorMask.fromValues(R, false, false, true, true, false, false, true, true);
    private static final VectorMask<Float> ODD4 = VectorMask.fromValues(R, false, false, false, false, true, true, true, true);
    private static final VectorMask<Float> EVEN1 = ODD1.not();
    private static final VectorMask<Float> EVEN2 = ODD2.not();
    private static final VectorMask<Float> EVEN4 = ODD4.not();
    /** 0, 1, ..., L - 1: a vector's lanes, for the causal mask. */
    private static final float[] LANES = new float[L];

    static {
        for (int lane = 0; lane < L; lane++) {
            LANES[lane] = lane;
        }
    }

    private final float[] qT;      // [TILE_Q / STEP][d][STEP] (see at()), pre-scaled by log2(e)/sqrt(d)
    private final float[][] kTile; // [TILE_K][d]
    private final float[] values;  // [TILE_K][d]
    private final float[] block;   // [TILE_K][STEP]: one query block's scores, then probabilities
    private final float[] acc;     // [TILE_Q / STEP][d][STEP] (see at()), unnormalised output
    private final float[] alpha = new float[STEP];   // one query block's rescaling factors
    private final float[] square = new float[ROWS * ROWS]; // the accumulator's channels of ROWS queries, by query

    SimdTileAttention(int d) {
        super(d);
        this.qT = new float[d * Q];
        this.kTile = new float[K][d];
        this.values = new float[K * d];
        this.block = new float[K * STEP];
        this.acc = new float[d * Q];
    }

    /** The vectors' width, for the summaries: "256-bit". */
    static String width() {
        return S.vectorBitSize() + "-bit";
    }

    /**
     * {@link #ROWS} channels of the rows at a time, transposed in registers into the block's lanes
     * {@code i % STEP ..} of {@link #qT} (the scalar copy, an index per value, took twice as long); lanes of
     * rows past {@code n} take stale values, never read.
     */
    @Override
    void putQueries(int i, int n) {
        int to = at(0, i);
        int c = 0;
        for (; c + ROWS <= d; c += ROWS) {
            transpose(rows, c, d, qT, to + c * STEP, STEP);
        }
        for (int r = 0; r < n; r++) {
            for (int x = c; x < d; x++) {
                qT[to + x * STEP + r] = rows[r * d + x];
            }
        }
    }

    @Override
    void putKeyValue(int j, FloatBuffer k, FloatBuffer v, int at) {
        k.get(at, kTile[j], 0, d);
        v.get(at, values, j * d, d);
    }

    @Override
    void clearAccumulator(int bq) {
        Arrays.fill(acc, 0, roundUp(bq, STEP) * d, 0f);
    }

    /** Whole vectors: the arrays hold {@link #TILE_Q} values, a multiple of {@code L}; lanes past n are unused. */
    @Override
    void exp2InPlace(float[] x, int n) {
        for (int i = 0; i < n; i += L) {
            VectorExp.exp2(FloatVector.fromArray(S, x, i)).intoArray(x, i);
        }
    }

    /**
     * {@link #ROWS} channels at a time: the accumulator's {@code ROWS x ROWS} square of them (queries
     * innermost) transposed in registers into {@link #square}, whose rows then line up with the output rows'
     * (the scalar form, a call and an index per value, cost a causal forward about 7% of its time). Each
     * value is the scalar twin's {@code fma(take, acc, keep * row)}.
     */
    @Override
    void blend(int i, int n) {
        int from = at(0, i);
        int c = 0;
        for (; c + ROWS <= d; c += ROWS) {
            transpose(acc, from + c * STEP, STEP, square, 0, ROWS);
            for (int r = 0; r < n; r++) {
                int at = r * d + c;
                FloatVector row = FloatVector.broadcast(R, keep[i + r]).mul(FloatVector.fromArray(R, rows, at));
                FloatVector.broadcast(R, take[i + r]).fma(FloatVector.fromArray(R, square, r * ROWS), row)
                        .intoArray(rows, at);
            }
        }
        for (int r = 0; r < n; r++) {
            for (int x = c; x < d; x++) {
                int at = r * d + x;
                rows[at] = Math.fma(take[i + r], acc[from + x * STEP + r], keep[i + r] * rows[at]);
            }
        }
    }

    /**
     * Transposes a {@link #ROWS} x {@link #ROWS} square: row {@code r} of it, {@code from[fromAt + r *
     * fromStride ..]}, becomes column {@code r} of {@code to} (rows {@code toStride} apart). Three rounds of
     * swaps between pairs of rows, 1, 2, then 4 lanes wide, each a lane permutation and a blend.
     */
    private static void transpose(float[] from, int fromAt, int fromStride, float[] to, int toAt, int toStride) {
        FloatVector r0 = FloatVector.fromArray(R, from, fromAt);
        FloatVector r1 = FloatVector.fromArray(R, from, fromAt + fromStride);
        FloatVector r2 = FloatVector.fromArray(R, from, fromAt + 2 * fromStride);
        FloatVector r3 = FloatVector.fromArray(R, from, fromAt + 3 * fromStride);
        FloatVector r4 = FloatVector.fromArray(R, from, fromAt + 4 * fromStride);
        FloatVector r5 = FloatVector.fromArray(R, from, fromAt + 5 * fromStride);
        FloatVector r6 = FloatVector.fromArray(R, from, fromAt + 6 * fromStride);
        FloatVector r7 = FloatVector.fromArray(R, from, fromAt + 7 * fromStride);
        FloatVector a0 = r0.blend(r1.rearrange(SWAP1), ODD1);
        FloatVector a1 = r1.blend(r0.rearrange(SWAP1), EVEN1);
        FloatVector a2 = r2.blend(r3.rearrange(SWAP1), ODD1);
        FloatVector a3 = r3.blend(r2.rearrange(SWAP1), EVEN1);
        FloatVector a4 = r4.blend(r5.rearrange(SWAP1), ODD1);
        FloatVector a5 = r5.blend(r4.rearrange(SWAP1), EVEN1);
        FloatVector a6 = r6.blend(r7.rearrange(SWAP1), ODD1);
        FloatVector a7 = r7.blend(r6.rearrange(SWAP1), EVEN1);
        FloatVector b0 = a0.blend(a2.rearrange(SWAP2), ODD2);
        FloatVector b2 = a2.blend(a0.rearrange(SWAP2), EVEN2);
        FloatVector b1 = a1.blend(a3.rearrange(SWAP2), ODD2);
        FloatVector b3 = a3.blend(a1.rearrange(SWAP2), EVEN2);
        FloatVector b4 = a4.blend(a6.rearrange(SWAP2), ODD2);
        FloatVector b6 = a6.blend(a4.rearrange(SWAP2), EVEN2);
        FloatVector b5 = a5.blend(a7.rearrange(SWAP2), ODD2);
        FloatVector b7 = a7.blend(a5.rearrange(SWAP2), EVEN2);
        b0.blend(b4.rearrange(SWAP4), ODD4).intoArray(to, toAt);
        b1.blend(b5.rearrange(SWAP4), ODD4).intoArray(to, toAt + toStride);
        b2.blend(b6.rearrange(SWAP4), ODD4).intoArray(to, toAt + 2 * toStride);
        b3.blend(b7.rearrange(SWAP4), ODD4).intoArray(to, toAt + 3 * toStride);
        b4.blend(b0.rearrange(SWAP4), EVEN4).intoArray(to, toAt + 4 * toStride);
        b5.blend(b1.rearrange(SWAP4), EVEN4).intoArray(to, toAt + 5 * toStride);
        b6.blend(b2.rearrange(SWAP4), EVEN4).intoArray(to, toAt + 6 * toStride);
        b7.blend(b3.rearrange(SWAP4), EVEN4).intoArray(to, toAt + 7 * toStride);
    }

    /**
     * Where channel {@code c} of query {@code x} is in {@link #qT} and {@link #acc}: the tiles are blocks of
     * {@link #STEP} queries, each block's channels one after another, so that a register block's loads walk
     * {@code d * STEP} consecutive floats. Channel rows of a whole tile ({@code TILE_Q} floats, a power of
     * two apart) put a block's {@code d} cache lines into the same few sets of the L1 cache, where they
     * evicted each other and the key tile's lines.
     */
    private int at(int c, int x) {
        return x / STEP * (d * STEP) + c * STEP + x % STEP;
    }

    /**
     * The key tile one block of {@link #STEP} queries at a time, all of its steps while the block's scores
     * (a {@code TILE_K x STEP} slice) stay in the L1 cache: scores by register blocks of 4 keys, then their
     * maximum, the exponentials and sums, then {@code V^T P} by register blocks of 4
     * channels. Keys whose first query is past the block are masked for all of it and skipped, and a block
     * with no key left is skipped whole (the steps would rescale it by exactly 1, or 0 times 0).
     */
    @Override
    void keyTile(int bq, int bk) {
        int iEnd = roundUp(bq, STEP);
        int keyEnd = 0;
        for (int i = 0; i < iEnd; i += STEP) {
            while (keyEnd < bk && firstQuery[keyEnd] < i + STEP) {
                keyEnd++;
            }
            if (keyEnd == 0) { // every key is in the block's future: its maxima, sums and accumulators stay
                continue;
            }
            scores(i, keyEnd);
            softmax(i, keyEnd);
            accumulate(i, keyEnd);
        }
    }

    /** {@code block[j][lane] = k_j . q_(i + lane)} for keys {@code j < keyEnd}, -inf where masked. */
    private void scores(int i, int keyEnd) {
        int base = i * d; // at(0, i), i a multiple of STEP
        FloatVector query0 = FloatVector.fromArray(S, LANES, 0).add(i);
        FloatVector query1 = query0.add(L);
        int j = 0;
        for (; j + 4 <= keyEnd; j += 4) {
            float[] k0 = kTile[j];
            float[] k1 = kTile[j + 1];
            float[] k2 = kTile[j + 2];
            float[] k3 = kTile[j + 3];
            FloatVector a00 = FloatVector.zero(S);
            FloatVector a01 = a00;
            FloatVector a10 = a00;
            FloatVector a11 = a00;
            FloatVector a20 = a00;
            FloatVector a21 = a00;
            FloatVector a30 = a00;
            FloatVector a31 = a00;
            for (int c = 0; c < d; c++) {
                FloatVector q0 = FloatVector.fromArray(S, qT, base + c * STEP);
                FloatVector q1 = FloatVector.fromArray(S, qT, base + c * STEP + L);
                FloatVector b = FloatVector.broadcast(S, k0[c]);
                a00 = b.fma(q0, a00);
                a01 = b.fma(q1, a01);
                b = FloatVector.broadcast(S, k1[c]);
                a10 = b.fma(q0, a10);
                a11 = b.fma(q1, a11);
                b = FloatVector.broadcast(S, k2[c]);
                a20 = b.fma(q0, a20);
                a21 = b.fma(q1, a21);
                b = FloatVector.broadcast(S, k3[c]);
                a30 = b.fma(q0, a30);
                a31 = b.fma(q1, a31);
            }
            if (firstQuery[j + 3] > i) { // the causal diagonal crosses this block
                a00 = masked(a00, query0, j);
                a01 = masked(a01, query1, j);
                a10 = masked(a10, query0, j + 1);
                a11 = masked(a11, query1, j + 1);
                a20 = masked(a20, query0, j + 2);
                a21 = masked(a21, query1, j + 2);
                a30 = masked(a30, query0, j + 3);
                a31 = masked(a31, query1, j + 3);
            }
            store(block, j * STEP, STEP, a00, a01, a10, a11, a20, a21, a30, a31);
        }
        for (; j < keyEnd; j++) {
            float[] kj = kTile[j];
            FloatVector a0 = FloatVector.zero(S);
            FloatVector a1 = a0;
            for (int c = 0; c < d; c++) {
                FloatVector b = FloatVector.broadcast(S, kj[c]);
                a0 = b.fma(FloatVector.fromArray(S, qT, base + c * STEP), a0);
                a1 = b.fma(FloatVector.fromArray(S, qT, base + c * STEP + L), a1);
            }
            masked(a0, query0, j).intoArray(block, j * STEP);
            masked(a1, query1, j).intoArray(block, j * STEP + L);
        }
    }

    /** The scores of key {@code j} with -inf for the queries before its first, {@code firstQuery[j]}. */
    private FloatVector masked(FloatVector scores, FloatVector query, int j) {
        return scores.blend(Float.NEGATIVE_INFINITY, query.lt(firstQuery[j]));
    }

    /**
     * The online softmax of the block's queries over keys {@code j < keyEnd}: each query's running maximum
     * moves to the tile's (taken as {@code s > max ? s : max} in key order, the scalar twin's rule: a
     * compare and a blend, where {@code max()} costs C2 four steps), its sum is rescaled by
     * {@code 2^(old - new)} ({@link #alpha}, kept for the accumulators) and moves on, the block's scores
     * become probabilities. Two call sites of the vector exponential, in loops: C2 stops inlining a
     * compilation's calls past a count of nodes, and a third one here left the others not inlined, their
     * vectors boxed.
     */
    private void softmax(int i, int keyEnd) {
        FloatVector m0 = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        FloatVector m1 = m0;
        for (int j = 0; j < keyEnd; j++) {
            FloatVector s0 = FloatVector.fromArray(S, block, j * STEP);
            FloatVector s1 = FloatVector.fromArray(S, block, j * STEP + L);
            m0 = m0.blend(s0, m0.lt(s0));
            m1 = m1.blend(s1, m1.lt(s1));
        }
        m0.intoArray(alpha, 0); // the tile's maximum, until the factor replaces it
        m1.intoArray(alpha, L);
        for (int lane = 0; lane < STEP; lane += L) {
            FloatVector old = FloatVector.fromArray(S, rowMax, i + lane);
            FloatVector newMax = old.max(FloatVector.fromArray(S, alpha, lane));
            newMax.intoArray(rowMax, i + lane);
            // A query whose keys are all in its future so far keeps max -inf; 0 keeps exp2() finite.
            FloatVector shift = newMax.blend(0f, newMax.eq(Float.NEGATIVE_INFINITY));
            FloatVector factor = VectorExp.exp2(old.sub(shift));
            factor.intoArray(alpha, lane);
            FloatVector sum = FloatVector.fromArray(S, rowSum, i + lane).mul(factor);
            for (int j = 0; j < keyEnd; j++) {
                int at = j * STEP + lane;
                FloatVector p = VectorExp.exp2(FloatVector.fromArray(S, block, at).sub(shift));
                p.intoArray(block, at);
                sum = sum.add(p);
            }
            sum.intoArray(rowSum, i + lane);
        }
    }

    /** {@code acc = acc * alpha + V^T P} for the block's queries, over keys {@code j < keyEnd}. */
    private void accumulate(int i, int keyEnd) {
        FloatVector alpha0 = FloatVector.fromArray(S, alpha, 0);
        FloatVector alpha1 = FloatVector.fromArray(S, alpha, L);
        int c = 0;
        for (; c + 4 <= d; c += 4) {
            int o = i * d + c * STEP; // at(c, i), i a multiple of STEP
            FloatVector a00 = FloatVector.fromArray(S, acc, o).mul(alpha0);
            FloatVector a01 = FloatVector.fromArray(S, acc, o + L).mul(alpha1);
            FloatVector a10 = FloatVector.fromArray(S, acc, o + STEP).mul(alpha0);
            FloatVector a11 = FloatVector.fromArray(S, acc, o + STEP + L).mul(alpha1);
            FloatVector a20 = FloatVector.fromArray(S, acc, o + 2 * STEP).mul(alpha0);
            FloatVector a21 = FloatVector.fromArray(S, acc, o + 2 * STEP + L).mul(alpha1);
            FloatVector a30 = FloatVector.fromArray(S, acc, o + 3 * STEP).mul(alpha0);
            FloatVector a31 = FloatVector.fromArray(S, acc, o + 3 * STEP + L).mul(alpha1);
            for (int j = 0; j < keyEnd; j++) {
                int v = j * d + c;
                FloatVector p0 = FloatVector.fromArray(S, block, j * STEP);
                FloatVector p1 = FloatVector.fromArray(S, block, j * STEP + L);
                FloatVector b = FloatVector.broadcast(S, values[v]);
                a00 = b.fma(p0, a00);
                a01 = b.fma(p1, a01);
                b = FloatVector.broadcast(S, values[v + 1]);
                a10 = b.fma(p0, a10);
                a11 = b.fma(p1, a11);
                b = FloatVector.broadcast(S, values[v + 2]);
                a20 = b.fma(p0, a20);
                a21 = b.fma(p1, a21);
                b = FloatVector.broadcast(S, values[v + 3]);
                a30 = b.fma(p0, a30);
                a31 = b.fma(p1, a31);
            }
            store(acc, o, STEP, a00, a01, a10, a11, a20, a21, a30, a31);
        }
        for (; c < d; c++) {
            int o = i * d + c * STEP;
            FloatVector a0 = FloatVector.fromArray(S, acc, o).mul(alpha0);
            FloatVector a1 = FloatVector.fromArray(S, acc, o + L).mul(alpha1);
            for (int j = 0; j < keyEnd; j++) {
                FloatVector b = FloatVector.broadcast(S, values[j * d + c]);
                a0 = b.fma(FloatVector.fromArray(S, block, j * STEP), a0);
                a1 = b.fma(FloatVector.fromArray(S, block, j * STEP + L), a1);
            }
            a0.intoArray(acc, o);
            a1.intoArray(acc, o + L);
        }
    }

    /** Stores a register block of 4 rows by 2 vectors, row {@code r} at {@code at + r * stride}. */
    private static void store(float[] to, int at, int stride, FloatVector r00, FloatVector r01, FloatVector r10,
                              FloatVector r11, FloatVector r20, FloatVector r21, FloatVector r30, FloatVector r31) {
        r00.intoArray(to, at);
        r01.intoArray(to, at + L);
        r10.intoArray(to, at + stride);
        r11.intoArray(to, at + stride + L);
        r20.intoArray(to, at + 2 * stride);
        r21.intoArray(to, at + 2 * stride + L);
        r30.intoArray(to, at + 3 * stride);
        r31.intoArray(to, at + 3 * stride + L);
    }

    private static int roundUp(int n, int step) {
        return (n + step - 1) / step * step;
    }
}
