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
 * <p>This class runs the item: gathers, the causal bounds, the running maximum and sum, the merge. The
 * hot step, each key tile's scores, softmax and {@code V^T P}, and the tiles' layout, are its
 * subclasses': {@link SimdTileAttention} with the Vector API where {@link VectorApi#available()}, else
 * {@link ScalarTileAttention}. Both keep the queries along the innermost index and perform the same
 * operations in the same order per query, so they give the same bits.
 */
abstract class SegmentTileAttention {

    static final int TILE_Q = 256;
    static final int TILE_K = 64;
    /**
     * Query rows gathered, and output rows merged and written back, together: a small row-major tile
     * ({@link #rows}) between the buffers (channels innermost) and the tiles (queries innermost), filled and
     * emptied by bulk copies, and transposed by the twins: the scalar one a row at a time (loops of
     * {@code d}: loops of {@code ROWS} over the queries measured slower, C2 surrounding each with its pre- and
     * post-loops), the SIMD one by squares of 8 x 8 in registers (its transpose is written for 8).
     */
    static final int ROWS = 8;

    /** Where row {@code t} of a sparsified segment starts: element {@code base + t * stride}. */
    record Rows(int base, int stride) {
        int at(int t) {
            return base + t * stride;
        }
    }

    private static final double LOG2_E = 1.4426950408889634;

    final int d;
    private final float scale;        // log2(e) / sqrt(d): scores in base 2, for exp2 (FastExp#exp2InPlace)
    final float[] rowMax = new float[TILE_Q];
    final float[] rowSum = new float[TILE_Q];
    final int[] firstQuery = new int[TILE_K]; // first query of the block that may see key j
    /** The merge's weights per query: of the row in o, then of this part's accumulator (LseMerge#excess2). */
    final float[] keep = new float[TILE_Q];
    final float[] take = new float[TILE_Q];
    private final float[] excess = new float[TILE_Q];
    /** The block's rows' lse: where each is in the lse buffer (one division per row), and its value before the merge. */
    private final int[] lseAt = new int[TILE_Q];
    private final float[] lseOld = new float[TILE_Q];
    final float[] rows;               // [ROWS][d]: a block of query rows on the way in, of output rows out

    SegmentTileAttention(int d) {
        this.d = d;
        this.scale = (float) (LOG2_E / Math.sqrt(d));
        this.rows = new float[ROWS * d];
    }

    /** A tile for head width {@code d}: the SIMD steps when {@link VectorApi#available()}. */
    static SegmentTileAttention create(int d) {
        return create(d, VectorApi.available());
    }

    /** What {@link #create(int)} gives: "Vector API, 256-bit", or the scalar loops and why. */
    static String describe() {
        return VectorApi.available() ? VectorApi.describe() + ", " + SimdTileAttention.width() : VectorApi.describe();
    }

    /** With {@code simd} false, the scalar steps (the fallback, and the reference the SIMD ones equal). */
    static SegmentTileAttention create(int d, boolean simd) {
        return simd ? new SimdTileAttention(d) : new ScalarTileAttention(d);
    }

    /**
     * Attends query rows {@code [i0, i1)} (laid out by {@code queries} in {@code q}, {@code o}; their lse
     * at element {@code queries.at(i) / d} of {@code lse}) to key rows {@code [0, keyRows)} (laid out by
     * {@code keys} in {@code k} and {@code v}), and merges the result into {@code o}, {@code lse}. Causal:
     * query {@code i} sees key {@code j} iff {@code j <= i + queryShift}, the shift being the sparse index
     * of query row 0 counted in key rows.
     */
    final void attend(FloatBuffer q, Rows queries, FloatBuffer k, FloatBuffer v, Rows keys, int keyRows,
                      FloatBuffer o, FloatBuffer lse, int i0, int i1, int queryShift, boolean causal) {
        int bq = i1 - i0;
        for (int i = 0; i < bq; i += ROWS) {
            int n = Math.min(ROWS, bq - i);
            for (int r = 0; r < n; r++) {
                q.get(queries.at(i0 + i + r), rows, r * d, d);
            }
            int size = n * d;
            for (int e = 0; e < size; e++) {
                rows[e] *= scale;
            }
            putQueries(i, n);
        }
        clearAccumulator(bq);
        Arrays.fill(rowMax, 0, bq, Float.NEGATIVE_INFINITY);
        Arrays.fill(rowSum, 0, bq, 0f);

        int diagonal = i0 + queryShift; // key index seen by query row i0 and no later key
        int keyEnd = causal ? Math.min(keyRows, i1 + queryShift) : keyRows;
        for (int j0 = 0; j0 < keyEnd; j0 += TILE_K) {
            int bk = Math.min(TILE_K, keyEnd - j0);
            for (int j = 0; j < bk; j++) {
                putKeyValue(j, k, v, keys.at(j0 + j));
            }
            boolean crossesDiagonal = causal && j0 + bk - 1 > diagonal;
            for (int j = 0; j < bk; j++) {
                firstQuery[j] = crossesDiagonal ? Math.min(bq, Math.max(0, j0 + j - diagonal)) : 0;
            }
            keyTile(bq, bk);
        }
        writeMerged(o, lse, queries, i0, bq);
    }

    /**
     * Stores query rows {@code [i, i + n)} of the block, {@code n <= ROWS}, from {@link #rows} (row
     * {@code r} at {@code r * d}, already scaled by log2(e)/sqrt(d)).
     */
    abstract void putQueries(int i, int n);

    /** Stores key and value row {@code j} of the key tile, read from element {@code at} of k and v. */
    abstract void putKeyValue(int j, FloatBuffer k, FloatBuffer v, int at);

    /** Zeroes the accumulator of queries {@code [0, bq)}. */
    abstract void clearAccumulator(int bq);

    /**
     * One key tile of flash attention for the block's queries {@code [0, bq)}: scores {@code k_j . q_i} (in
     * base 2: q carries log2(e)), -inf before {@code firstQuery[j]} (the causal mask); each query's running
     * maximum {@link #rowMax} moves to the tile's (taken as {@code s > max ? s : max} in key order, by
     * both twins), its sum {@link #rowSum} and accumulator are rescaled by {@code 2^(old - new)};
     * the scores become probabilities, added to the sum; {@code acc += V^T P}.
     */
    abstract void keyTile(int bq, int bk);

    /** {@code x[i] = 2^x[i]} for {@code i < n}, {@code x[i] <= 0}, as {@link FastExp#exp2InPlace}. */
    abstract void exp2InPlace(float[] x, int n);

    /**
     * Output rows {@code [i, i + n)} of the block, {@code n <= ROWS}, in {@link #rows} (row {@code r} at
     * {@code r * d}) become {@code fma(take, acc, keep * row)}, with query {@code i + r}'s weights
     * ({@link #take}, {@link #keep}) and unnormalised output {@code acc}.
     */
    abstract void blend(int i, int n);

    /**
     * Merges the block's result into o and lse by {@link LseMerge#excess2}'s rule: the weights of a whole
     * block at once (its exponentials vectorised in the SIMD twin; one log per row), then the rows
     * {@link #ROWS} at a time. A row with no lse yet (-inf) is not read: its weight is 0 and whatever o holds
     * there is not the row's. A query that saw no key (sum 0) leaves its row and lse as they were.
     */
    private void writeMerged(FloatBuffer o, FloatBuffer lse, Rows queries, int i0, int bq) {
        for (int i = 0; i < bq; i++) {
            int at = queries.at(i0 + i) / d;
            float old = lse.get(at);
            lseAt[i] = at;
            lseOld[i] = old;
            float x = LseMerge.excess2(old, rowMax[i]);
            excess[i] = x;
            keep[i] = Math.min(x, 0f);
            take[i] = Math.min(-x, 0f);
        }
        exp2InPlace(keep, bq);
        exp2InPlace(take, bq);
        for (int i = 0; i < bq; i++) {
            if (rowSum[i] == 0f) {
                continue;
            }
            float total = keep[i] + rowSum[i] * take[i];
            lse.put(lseAt[i], LseMerge.mergedLse(lseOld[i], rowMax[i], excess[i], total));
            keep[i] /= total;
            take[i] /= total;
        }
        for (int i = 0; i < bq; i += ROWS) {
            int n = Math.min(ROWS, bq - i);
            for (int r = 0; r < n; r++) {
                if (keep[i + r] == 0f) { // no lse yet, or a weight below 2^-127: the row counts for nothing
                    Arrays.fill(rows, r * d, (r + 1) * d, 0f);
                } else {
                    o.get(queries.at(i0 + i + r), rows, r * d, d);
                }
            }
            blend(i, n);
            for (int r = 0; r < n; r++) {
                if (rowSum[i + r] != 0f) {
                    o.put(queries.at(i0 + i + r), rows, r * d, d);
                }
            }
        }
    }
}
