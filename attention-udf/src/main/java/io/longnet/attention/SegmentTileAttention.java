package io.longnet.attention;

import java.nio.FloatBuffer;
import java.util.Arrays;

/**
 * The math of one CPU work item: a block of up to {@link #BLOCK_Q} query rows of one dilated segment of
 * one head, attended flash-style (online softmax over key tiles of {@link #BLOCK_K}) and merged into the
 * output by lse. One instance per worker thread: it owns the tiles, so memory stays
 * {@code O(BLOCK * d)} per thread and no {@code w x w} matrix exists.
 */
final class SegmentTileAttention {

    static final int BLOCK_Q = 64;
    static final int BLOCK_K = 64;

    private final int d;
    private final int heads;
    private final float scale;
    private final float[] qTile;      // [BLOCK_Q][d], pre-scaled by 1/sqrt(d)
    private final float[] kTileT;     // [d][BLOCK_K]: transposed so that the score loop runs along keys
    private final float[] vTile;      // [BLOCK_K][d]
    private final float[] scores;     // [BLOCK_Q][BLOCK_K], overwritten by probabilities
    private final float[] acc;        // [BLOCK_Q][d], unnormalised output
    private final float[] rowMax = new float[BLOCK_Q];
    private final float[] rowSum = new float[BLOCK_Q];
    private final float[] row;        // one row of d, for gathers and the merge
    private final float[] outRow;

    SegmentTileAttention(int heads, int d) {
        this.d = d;
        this.heads = heads;
        this.scale = (float) (1.0 / Math.sqrt(d));
        this.qTile = new float[BLOCK_Q * d];
        this.kTileT = new float[d * BLOCK_K];
        this.vTile = new float[BLOCK_K * d];
        this.scores = new float[BLOCK_Q * BLOCK_K];
        this.acc = new float[BLOCK_Q * d];
        this.row = new float[d];
        this.outRow = new float[d];
    }

    /**
     * Attends query rows {@code [i0, i1)} of the sparsified segment whose row {@code t} is position
     * {@code first + t * r}, to key rows {@code [0, rows)} (causal: key {@code t <= query t}), for head
     * {@code head}, and merges the result into {@code o}, {@code lse}.
     */
    void attend(FloatBuffer q, FloatBuffer k, FloatBuffer v, FloatBuffer o, FloatBuffer lse,
                int head, int first, int r, int rows, int i0, int i1, boolean causal) {
        int bq = i1 - i0;
        for (int i = 0; i < bq; i++) {
            q.get(index(first + (i0 + i) * r, head), qTile, i * d, d);
            for (int c = 0; c < d; c++) {
                qTile[i * d + c] *= scale;
            }
        }
        Arrays.fill(acc, 0, bq * d, 0f);
        Arrays.fill(rowMax, 0, bq, Float.NEGATIVE_INFINITY);
        Arrays.fill(rowSum, 0, bq, 0f);

        int keyEnd = causal ? i1 : rows;
        for (int j0 = 0; j0 < keyEnd; j0 += BLOCK_K) {
            int bk = Math.min(BLOCK_K, keyEnd - j0);
            gatherKeys(k, v, head, first, r, j0, bk);
            scoreTile(bq, bk);
            if (causal && j0 + bk - 1 > i0) {
                maskFuture(bq, bk, i0, j0);
            }
            softmaxAccumulate(bq, bk);
        }
        writeMerged(o, lse, head, first, r, i0, bq);
    }

    private int index(int position, int head) {
        return (position * heads + head) * d;
    }

    private void gatherKeys(FloatBuffer k, FloatBuffer v, int head, int first, int r, int j0, int bk) {
        for (int j = 0; j < bk; j++) {
            int at = index(first + (j0 + j) * r, head);
            k.get(at, row, 0, d);
            for (int c = 0; c < d; c++) {
                kTileT[c * BLOCK_K + j] = row[c];
            }
            v.get(at, vTile, j * d, d);
        }
    }

    /** scores = qTile · kTileT. Loop order i, c, j keeps the innermost loop a vectorisable axpy. */
    private void scoreTile(int bq, int bk) {
        for (int i = 0; i < bq; i++) {
            int s0 = i * BLOCK_K;
            Arrays.fill(scores, s0, s0 + bk, 0f);
            for (int c = 0; c < d; c++) {
                float a = qTile[i * d + c];
                int k0 = c * BLOCK_K;
                for (int j = 0; j < bk; j++) {
                    scores[s0 + j] = Math.fma(a, kTileT[k0 + j], scores[s0 + j]);
                }
            }
        }
    }

    /** Causal mask for the tile that crosses the diagonal: key row {@code j0+j} after query {@code i0+i}. */
    private void maskFuture(int bq, int bk, int i0, int j0) {
        for (int i = 0; i < bq; i++) {
            int firstMasked = Math.max(0, i0 + i + 1 - j0);
            if (firstMasked < bk) {
                Arrays.fill(scores, i * BLOCK_K + firstMasked, i * BLOCK_K + bk, Float.NEGATIVE_INFINITY);
            }
        }
    }

    /** Online softmax: rescale the running sums to the new row maximum, then acc += P · vTile. */
    private void softmaxAccumulate(int bq, int bk) {
        for (int i = 0; i < bq; i++) {
            int s0 = i * BLOCK_K;
            float tileMax = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < bk; j++) {
                tileMax = Math.max(tileMax, scores[s0 + j]);
            }
            if (tileMax == Float.NEGATIVE_INFINITY) {
                continue; // every key of this tile is in the row's future
            }
            float newMax = Math.max(rowMax[i], tileMax);
            float sum = 0f;
            for (int j = 0; j < bk; j++) {
                float p = (float) Math.exp(scores[s0 + j] - newMax);
                scores[s0 + j] = p;
                sum += p;
            }
            int a0 = i * d;
            if (newMax != rowMax[i]) {
                float alpha = (float) Math.exp(rowMax[i] - newMax);
                rowSum[i] *= alpha;
                for (int c = 0; c < d; c++) {
                    acc[a0 + c] *= alpha;
                }
                rowMax[i] = newMax;
            }
            rowSum[i] += sum;
            for (int j = 0; j < bk; j++) {
                float p = scores[s0 + j];
                int v0 = j * d;
                for (int c = 0; c < d; c++) {
                    acc[a0 + c] = Math.fma(p, vTile[v0 + c], acc[a0 + c]);
                }
            }
        }
    }

    private void writeMerged(FloatBuffer o, FloatBuffer lse, int head, int first, int r, int i0, int bq) {
        for (int i = 0; i < bq; i++) {
            int position = first + (i0 + i) * r;
            int at = index(position, head);
            int lseAt = position * heads + head;
            float inv = 1f / rowSum[i];
            for (int c = 0; c < d; c++) {
                row[c] = acc[i * d + c] * inv;
            }
            float partLse = rowMax[i] + (float) Math.log(rowSum[i]);
            o.get(at, outRow, 0, d);
            float merged = LseMerge.mergeRow(outRow, 0, lse.get(lseAt), row, 0, partLse, d);
            o.put(at, outRow, 0, d);
            lse.put(lseAt, merged);
        }
    }
}
