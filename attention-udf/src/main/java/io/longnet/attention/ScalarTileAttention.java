package io.longnet.attention;

import java.nio.FloatBuffer;
import java.util.Arrays;

/**
 * The scalar steps of {@link SegmentTileAttention}: the fallback where the Vector API is absent, and the
 * reference its SIMD twin equals bit for bit.
 *
 * <p>The tiles are kept transposed, queries along the innermost index ({@code qT[c][i]},
 * {@code scoresT[j][i]}, {@code accT[c][i]}), and as arrays of rows: every hot loop is then an axpy over
 * the block's queries starting at index 0, the one shape HotSpot's C2 (JDK 17) vectorises reliably;
 * inner loops along {@code d} are too short and offset indices defeat its alignment analysis.
 */
final class ScalarTileAttention extends SegmentTileAttention {

    private final float[][] qT;       // [d][TILE_Q], pre-scaled by log2(e)/sqrt(d)
    private final float[][] kTile;    // [TILE_K][d]
    private final float[][] vTile;    // [TILE_K][d]
    private final float[][] scoresT;  // [TILE_K][TILE_Q], overwritten by probabilities
    private final float[][] accT;     // [d][TILE_Q], unnormalised output
    private final float[] shift = new float[TILE_Q];  // the tile maximum, then the new row maximum
    private final float[] alpha = new float[TILE_Q];
    private final float[] expScratch = new float[TILE_Q];
    private final float[] zeros = new float[TILE_Q];  // the shift of the merge's exponentials

    ScalarTileAttention(int d) {
        super(d);
        this.qT = new float[d][TILE_Q];
        this.kTile = new float[TILE_K][d];
        this.vTile = new float[TILE_K][d];
        this.scoresT = new float[TILE_K][TILE_Q];
        this.accT = new float[d][TILE_Q];
    }

    @Override
    void putQueries(int i, int n) {
        for (int r = 0; r < n; r++) {
            int from = r * d;
            for (int c = 0; c < d; c++) {
                qT[c][i + r] = rows[from + c];
            }
        }
    }

    @Override
    void putKeyValue(int j, FloatBuffer k, FloatBuffer v, int at) {
        k.get(at, kTile[j], 0, d);
        v.get(at, vTile[j], 0, d);
    }

    @Override
    void clearAccumulator(int bq) {
        for (int c = 0; c < d; c++) {
            Arrays.fill(accT[c], 0, bq, 0f);
        }
    }

    @Override
    void keyTile(int bq, int bk) {
        scoreTile(bq, bk);
        softmaxAccumulate(bq, bk);
    }

    /**
     * scoresT[j] = sum_c k[j][c] * qT[c]: one axpy over the queries per (key, channel). Queries before
     * {@code firstQuery[j]} come before key j (causal mask): they get -inf and cost nothing, so a
     * diagonal tile costs its triangle only.
     */
    private void scoreTile(int bq, int bk) {
        for (int j = 0; j < bk; j++) {
            float[] s = scoresT[j];
            float[] kj = kTile[j];
            int lo = firstQuery[j];
            Arrays.fill(s, 0, lo, Float.NEGATIVE_INFINITY);
            Arrays.fill(s, lo, bq, 0f);
            for (int c = 0; c < d; c++) {
                float kc = kj[c];
                float[] qc = qT[c];
                for (int i = lo; i < bq; i++) {
                    s[i] = Math.fma(kc, qc[i], s[i]);
                }
            }
        }
    }

    /** Online softmax: move each query's running sums to the new maximum, then accT += V^T P. */
    private void softmaxAccumulate(int bq, int bk) {
        Arrays.fill(shift, 0, bq, Float.NEGATIVE_INFINITY);
        for (int j = 0; j < bk; j++) {
            float[] s = scoresT[j];
            for (int i = 0; i < bq; i++) {
                shift[i] = s[i] > shift[i] ? s[i] : shift[i];
            }
        }
        for (int i = 0; i < bq; i++) {
            float newMax = Math.max(rowMax[i], shift[i]);
            // A query whose keys are all in its future so far keeps max -inf; 0 keeps exp() finite.
            alpha[i] = rowMax[i];
            rowMax[i] = newMax;
            shift[i] = newMax == Float.NEGATIVE_INFINITY ? 0f : newMax;
        }
        FastExp.exp2InPlace(alpha, shift, 0, bq, expScratch); // alpha = 2^(oldMax - newMax)
        for (int i = 0; i < bq; i++) {
            rowSum[i] *= alpha[i];
        }
        for (int c = 0; c < d; c++) {
            float[] a = accT[c];
            for (int i = 0; i < bq; i++) {
                a[i] *= alpha[i];
            }
        }
        for (int j = 0; j < bk; j++) {
            float[] s = scoresT[j];
            int lo = firstQuery[j];
            FastExp.exp2InPlace(s, shift, lo, bq, expScratch);
            for (int i = lo; i < bq; i++) {
                rowSum[i] += s[i];
            }
            float[] vj = vTile[j];
            for (int c = 0; c < d; c++) {
                float vc = vj[c];
                float[] a = accT[c];
                for (int i = lo; i < bq; i++) {
                    a[i] = Math.fma(vc, s[i], a[i]);
                }
            }
        }
    }

    @Override
    void exp2InPlace(float[] x, int n) {
        FastExp.exp2InPlace(x, zeros, 0, n, expScratch);
    }

    @Override
    void blend(int i, int n) {
        for (int r = 0; r < n; r++) {
            float t = take[i + r];
            float k = keep[i + r];
            int at = r * d;
            for (int c = 0; c < d; c++) {
                rows[at + c] = Math.fma(t, accT[c][i + r], k * rows[at + c]);
            }
        }
    }
}
