package io.longnet.attention;

import java.nio.FloatBuffer;
import java.util.Arrays;

/**
 * The math of one CPU work item: a block of up to {@link #TILE_Q} query rows of one dilated segment of
 * one head, attended flash-style (online softmax over key tiles of {@link #TILE_K}) and merged into the
 * output by lse. One instance per worker thread: it owns the tiles, so memory stays
 * {@code O(TILE * d)} per thread and no {@code w x w} matrix exists. Rows are addressed by
 * {@link Rows} (element index of row t = base + t * stride), so the same code serves keys read in place
 * from a sequence and keys gathered from other partitions.
 *
 * <p>The tiles are kept transposed, queries along the innermost index ({@code qT[c][i]},
 * {@code scoresT[j][i]}, {@code accT[c][i]}), and as arrays of rows: every hot loop is then an axpy over
 * the block's queries starting at index 0, the one shape HotSpot's C2 (JDK 17) vectorises reliably;
 * inner loops along {@code d} are too short and offset indices defeat its alignment analysis.
 */
final class SegmentTileAttention {

    static final int TILE_Q = 128;
    static final int TILE_K = 64;

    /** Where row {@code t} of a sparsified segment starts: element {@code base + t * stride}. */
    record Rows(int base, int stride) {
        int at(int t) {
            return base + t * stride;
        }
    }

    private final int d;
    private final float scale;
    private final float[][] qT;       // [d][TILE_Q], pre-scaled by 1/sqrt(d)
    private final float[][] kTile;    // [TILE_K][d]
    private final float[][] vTile;    // [TILE_K][d]
    private final float[][] scoresT;  // [TILE_K][TILE_Q], overwritten by probabilities
    private final float[][] accT;     // [d][TILE_Q], unnormalised output
    private final float[] rowMax = new float[TILE_Q];
    private final float[] rowSum = new float[TILE_Q];
    private final float[] shift = new float[TILE_Q];  // the tile maximum, then the new row maximum
    private final float[] alpha = new float[TILE_Q];
    private final float[] expScratch = new float[TILE_Q];
    private final int[] firstQuery = new int[TILE_K]; // first query of the block that may see key j
    private final float[] row;        // one row of d: gathers and the merge
    private final float[] outRow;

    SegmentTileAttention(int d) {
        this.d = d;
        this.scale = (float) (1.0 / Math.sqrt(d));
        this.qT = new float[d][TILE_Q];
        this.kTile = new float[TILE_K][d];
        this.vTile = new float[TILE_K][d];
        this.scoresT = new float[TILE_K][TILE_Q];
        this.accT = new float[d][TILE_Q];
        this.row = new float[d];
        this.outRow = new float[d];
    }

    /**
     * Attends query rows {@code [i0, i1)} (laid out by {@code queries} in {@code q}, {@code o}; their lse
     * at element {@code queries.at(i) / d} of {@code lse}) to key rows {@code [0, keyRows)} (laid out by
     * {@code keys} in {@code k} and {@code v}), and merges the result into {@code o}, {@code lse}. Causal:
     * query {@code i} sees key {@code j} iff {@code j <= i + queryShift}, the shift being the sparse index
     * of query row 0 counted in key rows.
     */
    void attend(FloatBuffer q, Rows queries, FloatBuffer k, FloatBuffer v, Rows keys, int keyRows,
                FloatBuffer o, FloatBuffer lse, int i0, int i1, int queryShift, boolean causal) {
        int bq = i1 - i0;
        for (int i = 0; i < bq; i++) {
            q.get(queries.at(i0 + i), row, 0, d);
            for (int c = 0; c < d; c++) {
                qT[c][i] = row[c] * scale;
            }
        }
        for (int c = 0; c < d; c++) {
            Arrays.fill(accT[c], 0, bq, 0f);
        }
        Arrays.fill(rowMax, 0, bq, Float.NEGATIVE_INFINITY);
        Arrays.fill(rowSum, 0, bq, 0f);

        int diagonal = i0 + queryShift; // key index seen by query row i0 and no later key
        int keyEnd = causal ? Math.min(keyRows, i1 + queryShift) : keyRows;
        for (int j0 = 0; j0 < keyEnd; j0 += TILE_K) {
            int bk = Math.min(TILE_K, keyEnd - j0);
            for (int j = 0; j < bk; j++) {
                int at = keys.at(j0 + j);
                k.get(at, kTile[j], 0, d);
                v.get(at, vTile[j], 0, d);
            }
            boolean crossesDiagonal = causal && j0 + bk - 1 > diagonal;
            for (int j = 0; j < bk; j++) {
                firstQuery[j] = crossesDiagonal ? Math.min(bq, Math.max(0, j0 + j - diagonal)) : 0;
            }
            scoreTile(bq, bk);
            softmaxAccumulate(bq, bk);
        }
        writeMerged(o, lse, queries, i0, bq);
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
                shift[i] = Math.max(shift[i], s[i]);
            }
        }
        for (int i = 0; i < bq; i++) {
            float newMax = Math.max(rowMax[i], shift[i]);
            // A query whose keys are all in its future so far keeps max -inf; 0 keeps exp() finite.
            alpha[i] = rowMax[i];
            rowMax[i] = newMax;
            shift[i] = newMax == Float.NEGATIVE_INFINITY ? 0f : newMax;
        }
        FastExp.expInPlace(alpha, shift, 0, bq, expScratch); // alpha = exp(oldMax - newMax)
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
            FastExp.expInPlace(s, shift, lo, bq, expScratch);
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

    private void writeMerged(FloatBuffer o, FloatBuffer lse, Rows queries, int i0, int bq) {
        for (int i = 0; i < bq; i++) {
            int at = queries.at(i0 + i);
            int lseAt = at / d;
            float inv = 1f / rowSum[i];
            for (int c = 0; c < d; c++) {
                row[c] = accT[c][i] * inv;
            }
            float partLse = rowMax[i] + (float) Math.log(rowSum[i]);
            o.get(at, outRow, 0, d);
            float merged = LseMerge.mergeRow(outRow, 0, lse.get(lseAt), row, 0, partLse, d);
            o.put(at, outRow, 0, d);
            lse.put(lseAt, merged);
        }
    }
}
