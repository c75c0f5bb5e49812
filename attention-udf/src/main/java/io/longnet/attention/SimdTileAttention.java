package io.longnet.attention;

import java.nio.FloatBuffer;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The steps of {@link SegmentTileAttention} in explicit SIMD (the JDK's Vector API). Created only when
 * {@link VectorApi#available()}.
 *
 * <p>Why it is faster than the scalar twin, whose axpys HotSpot also vectorises: those load and store a
 * row of scores or of the accumulator for every multiply-add. Here a block of 4 keys (or 4 channels) by 2
 * vectors of queries stays in 8 registers through the whole reduction, so each step is 8 fused
 * multiply-adds for 2 vector loads and 4 broadcasts, and the exponential is vectorised with its exponent
 * step. The tiles are flat arrays, queries innermost, the values transposed ({@code vT[c][j]}), so that
 * every index in an inner loop is linear in its counter and HotSpot hoists the bounds checks.
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

    private final float[] qT;      // [d][TILE_Q], pre-scaled by 1/sqrt(d)
    private final float[][] kTile; // [TILE_K][d]
    private final float[] vT;      // [d][TILE_K]
    private final float[] scores;  // [TILE_K][TILE_Q], overwritten by probabilities
    private final float[] acc;     // [d][TILE_Q], unnormalised output
    private final float[] alpha = new float[TILE_Q];
    private final float[] row;

    SimdTileAttention(int d) {
        super(d);
        this.qT = new float[d * Q];
        this.kTile = new float[K][d];
        this.vT = new float[d * K];
        this.scores = new float[K * Q];
        this.acc = new float[d * Q];
        this.row = new float[d];
    }

    /** The vectors' width, for the summaries: "256-bit". */
    static String width() {
        return S.vectorBitSize() + "-bit";
    }

    @Override
    void putQuery(int i, float[] query) {
        for (int c = 0; c < d; c++) {
            qT[c * Q + i] = query[c];
        }
    }

    @Override
    void putKeyValue(int j, FloatBuffer k, FloatBuffer v, int at) {
        k.get(at, kTile[j], 0, d);
        v.get(at, row, 0, d);
        for (int c = 0; c < d; c++) {
            vT[c * K + j] = row[c];
        }
    }

    @Override
    void clearAccumulator(int bq) {
        for (int c = 0; c < d; c++) {
            Arrays.fill(acc, c * Q, c * Q + bq, 0f);
        }
    }

    @Override
    void accumulated(int i, float[] out) {
        for (int c = 0; c < d; c++) {
            out[c] = acc[c * Q + i];
        }
    }

    /** Four keys by two query vectors per register block; whole blocks before the causal bound are skipped. */
    @Override
    void scoreTile(int bq, int bk) {
        int iEnd = roundUp(bq, STEP);
        int j = 0;
        for (; j + 4 <= bk; j += 4) {
            float[] k0 = kTile[j];
            float[] k1 = kTile[j + 1];
            float[] k2 = kTile[j + 2];
            float[] k3 = kTile[j + 3];
            for (int i = firstQuery[j] / STEP * STEP; i < iEnd; i += STEP) {
                FloatVector a00 = FloatVector.zero(S);
                FloatVector a01 = a00;
                FloatVector a10 = a00;
                FloatVector a11 = a00;
                FloatVector a20 = a00;
                FloatVector a21 = a00;
                FloatVector a30 = a00;
                FloatVector a31 = a00;
                for (int c = 0; c < d; c++) {
                    FloatVector q0 = FloatVector.fromArray(S, qT, c * Q + i);
                    FloatVector q1 = FloatVector.fromArray(S, qT, c * Q + i + L);
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
                int s = j * Q + i;
                a00.intoArray(scores, s);
                a01.intoArray(scores, s + L);
                a10.intoArray(scores, s + Q);
                a11.intoArray(scores, s + Q + L);
                a20.intoArray(scores, s + 2 * Q);
                a21.intoArray(scores, s + 2 * Q + L);
                a30.intoArray(scores, s + 3 * Q);
                a31.intoArray(scores, s + 3 * Q + L);
            }
            for (int jj = j; jj < j + 4; jj++) {
                Arrays.fill(scores, jj * Q, jj * Q + firstQuery[jj], Float.NEGATIVE_INFINITY);
            }
        }
        for (; j < bk; j++) {
            float[] kj = kTile[j];
            for (int i = firstQuery[j] / STEP * STEP; i < iEnd; i += STEP) {
                FloatVector a0 = FloatVector.zero(S);
                FloatVector a1 = a0;
                for (int c = 0; c < d; c++) {
                    FloatVector b = FloatVector.broadcast(S, kj[c]);
                    a0 = b.fma(FloatVector.fromArray(S, qT, c * Q + i), a0);
                    a1 = b.fma(FloatVector.fromArray(S, qT, c * Q + i + L), a1);
                }
                a0.intoArray(scores, j * Q + i);
                a1.intoArray(scores, j * Q + i + L);
            }
            Arrays.fill(scores, j * Q, j * Q + firstQuery[j], Float.NEGATIVE_INFINITY);
        }
    }

    /** The maximum, exponentials and sums one query vector at a time; then {@code V^T P} by register blocks. */
    @Override
    void softmaxAccumulate(int bq, int bk) {
        int iEnd = roundUp(bq, STEP);
        for (int i = 0; i < iEnd; i += L) {
            FloatVector max = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
            for (int j = 0; j < bk; j++) {
                max = max.max(FloatVector.fromArray(S, scores, j * Q + i));
            }
            FloatVector old = FloatVector.fromArray(S, rowMax, i);
            FloatVector newMax = old.max(max);
            newMax.intoArray(rowMax, i);
            // A query whose keys are all in its future so far keeps max -inf; 0 keeps exp() finite.
            FloatVector shift = newMax.blend(0f, newMax.eq(Float.NEGATIVE_INFINITY));
            FloatVector a = exp(old.sub(shift));
            a.intoArray(alpha, i);
            FloatVector sum = FloatVector.fromArray(S, rowSum, i).mul(a);
            for (int j = 0; j < bk; j++) {
                FloatVector p = exp(FloatVector.fromArray(S, scores, j * Q + i).sub(shift));
                p.intoArray(scores, j * Q + i);
                sum = sum.add(p);
            }
            sum.intoArray(rowSum, i);
        }
        int keyEnd = 0;
        for (int i = 0; i < iEnd; i += STEP) {
            // Keys whose first query is past this block are masked for all of it: their probabilities are 0.
            while (keyEnd < bk && firstQuery[keyEnd] < i + STEP) {
                keyEnd++;
            }
            FloatVector alpha0 = FloatVector.fromArray(S, alpha, i);
            FloatVector alpha1 = FloatVector.fromArray(S, alpha, i + L);
            int c = 0;
            for (; c + 4 <= d; c += 4) {
                int o = c * Q + i;
                FloatVector a00 = FloatVector.fromArray(S, acc, o).mul(alpha0);
                FloatVector a01 = FloatVector.fromArray(S, acc, o + L).mul(alpha1);
                FloatVector a10 = FloatVector.fromArray(S, acc, o + Q).mul(alpha0);
                FloatVector a11 = FloatVector.fromArray(S, acc, o + Q + L).mul(alpha1);
                FloatVector a20 = FloatVector.fromArray(S, acc, o + 2 * Q).mul(alpha0);
                FloatVector a21 = FloatVector.fromArray(S, acc, o + 2 * Q + L).mul(alpha1);
                FloatVector a30 = FloatVector.fromArray(S, acc, o + 3 * Q).mul(alpha0);
                FloatVector a31 = FloatVector.fromArray(S, acc, o + 3 * Q + L).mul(alpha1);
                int v = c * K;
                for (int j = 0; j < keyEnd; j++) {
                    FloatVector p0 = FloatVector.fromArray(S, scores, j * Q + i);
                    FloatVector p1 = FloatVector.fromArray(S, scores, j * Q + i + L);
                    FloatVector b = FloatVector.broadcast(S, vT[v + j]);
                    a00 = b.fma(p0, a00);
                    a01 = b.fma(p1, a01);
                    b = FloatVector.broadcast(S, vT[v + K + j]);
                    a10 = b.fma(p0, a10);
                    a11 = b.fma(p1, a11);
                    b = FloatVector.broadcast(S, vT[v + 2 * K + j]);
                    a20 = b.fma(p0, a20);
                    a21 = b.fma(p1, a21);
                    b = FloatVector.broadcast(S, vT[v + 3 * K + j]);
                    a30 = b.fma(p0, a30);
                    a31 = b.fma(p1, a31);
                }
                a00.intoArray(acc, o);
                a01.intoArray(acc, o + L);
                a10.intoArray(acc, o + Q);
                a11.intoArray(acc, o + Q + L);
                a20.intoArray(acc, o + 2 * Q);
                a21.intoArray(acc, o + 2 * Q + L);
                a30.intoArray(acc, o + 3 * Q);
                a31.intoArray(acc, o + 3 * Q + L);
            }
            for (; c < d; c++) {
                int o = c * Q + i;
                FloatVector a0 = FloatVector.fromArray(S, acc, o).mul(alpha0);
                FloatVector a1 = FloatVector.fromArray(S, acc, o + L).mul(alpha1);
                for (int j = 0; j < keyEnd; j++) {
                    FloatVector b = FloatVector.broadcast(S, vT[c * K + j]);
                    a0 = b.fma(FloatVector.fromArray(S, scores, j * Q + i), a0);
                    a1 = b.fma(FloatVector.fromArray(S, scores, j * Q + i + L), a1);
                }
                a0.intoArray(acc, o);
                a1.intoArray(acc, o + L);
            }
        }
    }

    /** {@link FastExp}'s float exponential, lane by lane, with the same operations in the same order. */
    private static FloatVector exp(FloatVector x) {
        FloatVector xc = x.max(FastExp.FLOOR);
        FloatVector t = xc.mul(FastExp.LOG2E).add(FastExp.ROUNDER);
        FloatVector nf = t.sub(FastExp.ROUNDER);
        FloatVector f = nf.fma(FloatVector.broadcast(S, -FastExp.LN2_HI), xc);
        f = nf.fma(FloatVector.broadcast(S, -FastExp.LN2_LO), f);
        FloatVector p = FloatVector.broadcast(S, FastExp.P6);
        p = p.fma(f, FloatVector.broadcast(S, FastExp.P5));
        p = p.fma(f, FloatVector.broadcast(S, FastExp.P4));
        p = p.fma(f, FloatVector.broadcast(S, FastExp.P3));
        p = p.fma(f, FloatVector.broadcast(S, FastExp.P2));
        FloatVector one = FloatVector.broadcast(S, 1f);
        p = p.fma(f, one);
        p = p.fma(f, one);
        IntVector n = ((IntVector) t.reinterpretAsInts()).sub(FastExp.ROUNDER_BITS - 127);
        return p.mul(n.lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats());
    }

    private static int roundUp(int n, int step) {
        return (n + step - 1) / step * step;
    }
}
