package io.longnet.attention;

import io.longnet.attention.SegmentTileAttention.Rows;
import java.util.Arrays;

/**
 * The float64 twin of {@link SegmentTileAttention}: the math of one work item of {@link
 * DilatedAttentionGradients}, a block of up to {@link #TILE_Q} query rows of one dilated segment of one
 * head against that segment's key rows, in tiles of {@link #TILE_K} keys. The forward pass is flash-style (online softmax, merged into the output by lse);
 * the backward pass recomputes the probabilities from the mixed lse. One instance per worker thread: it
 * owns the tiles, so memory stays {@code O(TILE * d)} per thread and no {@code w x w} matrix exists.
 *
 * <p>Layout as in {@link SegmentTileAttention}: q, dO and the accumulators are kept transposed
 * ({@code [d][TILE_Q]}), scores and probabilities as {@code [TILE_K][TILE_Q]}, so that the query
 * products run along a block's queries from index 0. The key gradients are sums over queries, so for them
 * q and dO are also kept as rows and those products run along {@code d}.
 *
 * <p>The five products of a tile (scores, {@code P V}, {@code dP}, {@code dV}/{@code dK}, {@code dQ}) run
 * through {@link TileProducts#mulAdd}, register-blocked over four rows and four steps of the shared
 * dimension; the exponentials through {@link FastExp}. Every sum runs in a fixed order (query tiles, then key tiles, then rows in index order), so a
 * result depends only on the inputs, never on which thread ran the item.
 */
final class SegmentTileGradients {

    static final int TILE_Q = 64;
    static final int TILE_K = 64;

    private final int d;
    private final double scale;
    private final double[][] qT;       // [d][TILE_Q], pre-scaled by 1/sqrt(d)
    private final double[][] qRows;    // [TILE_Q][d], pre-scaled: dK_j += dS_ij * scale * q_i
    private final double[][] dOT;      // [d][TILE_Q]
    private final double[][] dORows;   // [TILE_Q][d]
    private final double[][] kTile;    // [TILE_K][d]
    private final double[][] vTile;    // [TILE_K][d]
    private final double[][] pT;       // [TILE_K][TILE_Q]: scores, then probabilities
    private final double[][] dsT;      // [TILE_K][TILE_Q]: dP, then dS
    private final double[][] accT;     // [d][TILE_Q]: forward, unnormalised output; backward, dq / scale
    private final double[][] dkTile;   // [TILE_K][d]
    private final double[][] dvTile;   // [TILE_K][d]
    private final double[] rowMax = new double[TILE_Q];
    private final double[] rowSum = new double[TILE_Q];
    private final double[] shift = new double[TILE_Q];   // tile maximum, then the exponent's shift
    private final double[] alpha = new double[TILE_Q];
    private final double[] rowLse = new double[TILE_Q];
    private final double[] delta = new double[TILE_Q];   // D_i = dO_i . o_i
    private final double[] rounded = new double[TILE_Q]; // FastExp's scratch
    private final int[] firstQuery = new int[TILE_K];    // first query of the block that may see key j
    private final double[] row;

    SegmentTileGradients(int d) {
        this.d = d;
        this.scale = 1.0 / Math.sqrt(d);
        this.qT = new double[d][TILE_Q];
        this.qRows = new double[TILE_Q][d];
        this.dOT = new double[d][TILE_Q];
        this.dORows = new double[TILE_Q][d];
        this.kTile = new double[TILE_K][d];
        this.vTile = new double[TILE_K][d];
        this.pT = new double[TILE_K][TILE_Q];
        this.dsT = new double[TILE_K][TILE_Q];
        this.accT = new double[d][TILE_Q];
        this.dkTile = new double[TILE_K][d];
        this.dvTile = new double[TILE_K][d];
        this.row = new double[d];
    }

    /**
     * Attends query rows {@code [i0, i1)} (laid out by {@code queries} in {@code q} and {@code o}; their lse
     * at element {@code queries.at(i) / d} of {@code lse}) to key rows {@code [0, keyRows)} (laid out by
     * {@code keys} in {@code k} and {@code v}) and merges the result into {@code o}, {@code lse}. Causal:
     * query {@code i} sees key {@code j} iff {@code j <= i + queryShift}.
     */
    void forward(double[] q, Rows queries, double[] k, double[] v, Rows keys, int keyRows,
                 double[] o, double[] lse, int i0, int i1, int queryShift, boolean causal) {
        int bq = i1 - i0;
        loadQueries(q, queries, i0, bq, false);
        for (int c = 0; c < d; c++) {
            Arrays.fill(accT[c], 0, bq, 0.0);
        }
        Arrays.fill(rowMax, 0, bq, Double.NEGATIVE_INFINITY);
        Arrays.fill(rowSum, 0, bq, 0.0);
        int keyEnd = causal ? Math.min(keyRows, i1 + queryShift) : keyRows;
        for (int j0 = 0; j0 < keyEnd; j0 += TILE_K) {
            int bk = Math.min(TILE_K, keyEnd - j0);
            scoreKeyTile(k, v, keys, j0, bk, bq, i0 + queryShift, causal);
            softmaxAccumulate(bq, bk);
        }
        for (int i = 0; i < bq; i++) {
            if (rowSum[i] == 0) {
                continue; // no key at all: nothing to merge
            }
            int at = queries.at(i0 + i);
            double inv = 1.0 / rowSum[i];
            for (int c = 0; c < d; c++) {
                row[c] = accT[c][i] * inv;
            }
            double partLse = rowMax[i] + Math.log(rowSum[i]);
            lse[at / d] = LseMerge.mergeRow(o, at, lse[at / d], row, 0, partLse, d);
        }
    }

    /**
     * Adds the gradients of query rows {@code [i0, i1)} against key rows {@code [0, keyRows)} (layout and
     * causal rule as in {@link #forward}) to {@code dq} (laid out like {@code q}) and {@code dk}, {@code dv}
     * (laid out like {@code k}, {@code v}), given the fully mixed {@code o}, {@code lse} and {@code dO}:
     * {@code P_ij = exp(s_ij - lse_i)}, {@code dV_j += P_ij dO_i}, {@code dS_ij = P_ij (dO_i . v_j - D_i)},
     * {@code dQ_i += scale dS_ij k_j}, {@code dK_j += scale dS_ij q_i}.
     */
    void backward(double[] q, Rows queries, double[] k, double[] v, Rows keys, int keyRows,
                  double[] o, double[] lse, double[] dO, double[] dq, double[] dk, double[] dv,
                  int i0, int i1, int queryShift, boolean causal) {
        int bq = i1 - i0;
        loadQueries(q, queries, i0, bq, true);
        for (int i = 0; i < bq; i++) {
            int at = queries.at(i0 + i);
            double[] g = dORows[i];
            System.arraycopy(dO, at, g, 0, d);
            double dot = 0;
            for (int c = 0; c < d; c++) {
                dOT[c][i] = g[c];
                dot += g[c] * o[at + c];
            }
            delta[i] = dot;
            rowLse[i] = lse[at / d];
        }
        for (int c = 0; c < d; c++) {
            Arrays.fill(accT[c], 0, bq, 0.0);
        }
        int keyEnd = causal ? Math.min(keyRows, i1 + queryShift) : keyRows;
        for (int j0 = 0; j0 < keyEnd; j0 += TILE_K) {
            int bk = Math.min(TILE_K, keyEnd - j0);
            scoreKeyTile(k, v, keys, j0, bk, bq, i0 + queryShift, causal);
            for (int j = 0; j < bk; j++) {
                double[] p = pT[j];
                int lo = firstQuery[j];
                Arrays.fill(p, 0, lo, 0.0);
                FastExp.expInPlace(p, rowLse, lo, bq, rounded);
            }
            // dP_ij = v_j . dO_i, then dS = P (dP - D), zero where masked (the products below sum over it).
            for (int j = 0; j < bk; j++) {
                Arrays.fill(dsT[j], 0, bq, 0.0);
            }
            TileProducts.mulAdd(vTile, false, dOT, dsT, bk, d, bq, firstQuery, null);
            for (int j = 0; j < bk; j++) {
                double[] ds = dsT[j];
                double[] p = pT[j];
                int lo = firstQuery[j];
                Arrays.fill(ds, 0, lo, 0.0);
                for (int i = lo; i < bq; i++) {
                    ds[i] = p[i] * (ds[i] - delta[i]);
                }
            }
            keyGradients(keys, dk, dv, j0, bk, bq);
            // dq_i += sum_j dS_ij k_j (scaled once at the end).
            TileProducts.mulAdd(kTile, true, dsT, accT, d, bk, bq, null, null);
        }
        for (int i = 0; i < bq; i++) {
            int at = queries.at(i0 + i);
            for (int c = 0; c < d; c++) {
                dq[at + c] += scale * accT[c][i];
            }
        }
    }

    /** dV_j += sum_i P_ij dO_i and dK_j += sum_i dS_ij (scale q_i), summed over the block, then added. */
    private void keyGradients(Rows keys, double[] dk, double[] dv, int j0, int bk, int bq) {
        for (int j = 0; j < bk; j++) {
            Arrays.fill(dkTile[j], 0.0);
            Arrays.fill(dvTile[j], 0.0);
        }
        // P and dS are zero before firstQuery[j], so each key's sum may start at its block's first bound.
        TileProducts.mulAdd(pT, false, dORows, dvTile, bk, bq, d, null, firstQuery);
        TileProducts.mulAdd(dsT, false, qRows, dkTile, bk, bq, d, null, firstQuery);
        for (int j = 0; j < bk; j++) {
            double[] gk = dkTile[j];
            double[] gv = dvTile[j];
            int at = keys.at(j0 + j);
            for (int c = 0; c < d; c++) {
                dk[at + c] += gk[c];
                dv[at + c] += gv[c];
            }
        }
    }

    private void loadQueries(double[] q, Rows queries, int i0, int bq, boolean rows) {
        for (int i = 0; i < bq; i++) {
            int at = queries.at(i0 + i);
            for (int c = 0; c < d; c++) {
                double x = q[at + c] * scale;
                qT[c][i] = x;
                if (rows) {
                    qRows[i][c] = x;
                }
            }
        }
    }

    private void loadKeys(double[] k, double[] v, Rows keys, int j0, int bk) {
        for (int j = 0; j < bk; j++) {
            int at = keys.at(j0 + j);
            System.arraycopy(k, at, kTile[j], 0, d);
            System.arraycopy(v, at, vTile[j], 0, d);
        }
    }

    /**
     * Causal: queries of the block before {@code firstQuery[j]} come before key j; {@code diagonal} is
     * the last key row query 0 of the block sees.
     */
    private void mask(int j0, int bk, int bq, int diagonal, boolean causal) {
        for (int j = 0; j < bk; j++) {
            firstQuery[j] = causal ? Math.min(bq, Math.max(0, j0 + j - diagonal)) : 0;
        }
    }

    /**
     * Loads key rows {@code [j0, j0 + bk)} and their values into the tiles, then pT[j] = sum_c k[j][c] * qT[c]
     * for the queries that may see key j, -inf for the others; the step both passes start a key tile with.
     */
    private void scoreKeyTile(double[] k, double[] v, Rows keys, int j0, int bk, int bq, int diagonal,
                              boolean causal) {
        loadKeys(k, v, keys, j0, bk);
        mask(j0, bk, bq, diagonal, causal);
        for (int j = 0; j < bk; j++) {
            Arrays.fill(pT[j], 0, bq, 0.0);
        }
        TileProducts.mulAdd(kTile, false, qT, pT, bk, d, bq, firstQuery, null);
        for (int j = 0; j < bk; j++) {
            Arrays.fill(pT[j], 0, firstQuery[j], Double.NEGATIVE_INFINITY);
        }
    }

    /** Online softmax: move each query's running sums to the new maximum, then accT += V^T P. */
    private void softmaxAccumulate(int bq, int bk) {
        Arrays.fill(shift, 0, bq, Double.NEGATIVE_INFINITY);
        for (int j = 0; j < bk; j++) {
            double[] s = pT[j];
            for (int i = 0; i < bq; i++) {
                shift[i] = Math.max(shift[i], s[i]);
            }
        }
        for (int i = 0; i < bq; i++) {
            double newMax = Math.max(rowMax[i], shift[i]);
            // A query that has seen no key yet keeps max -inf; shifting by 0 keeps exp() finite.
            double by = newMax == Double.NEGATIVE_INFINITY ? 0.0 : newMax;
            alpha[i] = Math.exp(rowMax[i] - by);
            rowMax[i] = newMax;
            shift[i] = by;
        }
        for (int i = 0; i < bq; i++) {
            rowSum[i] *= alpha[i];
        }
        for (int c = 0; c < d; c++) {
            double[] a = accT[c];
            for (int i = 0; i < bq; i++) {
                a[i] *= alpha[i];
            }
        }
        for (int j = 0; j < bk; j++) {
            double[] s = pT[j];
            int lo = firstQuery[j];
            Arrays.fill(s, 0, lo, 0.0); // masked: no weight in the product below
            FastExp.expInPlace(s, shift, lo, bq, rounded);
            for (int i = lo; i < bq; i++) {
                rowSum[i] += s[i];
            }
        }
        TileProducts.mulAdd(vTile, true, pT, accT, d, bk, bq, null, null);
    }
}
