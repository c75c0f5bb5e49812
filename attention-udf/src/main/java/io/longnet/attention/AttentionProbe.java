package io.longnet.attention;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What one query attends to, for exploration (docs/SQL.md, {@code longnet_attention_probe}): for a query
 * position and head, each branch's mixing weight and the keys with the largest probabilities in the final,
 * mixed attention distribution of docs/ARCHITECTURE.md §1. Only the query's own segment of each branch is
 * visited, so a probe costs {@code O(w/r · d)} per branch, never an {@code N × N} map.
 *
 * <p>The mixed distribution: branch {@code b} gives key {@code j} the probability
 * {@code exp(score(p, j) − lse_b)} and the branch the weight {@code exp(lse_b − lse)}, so key {@code j}'s
 * probability is {@code Σ_b exp(score(p, j) − lse)} over the branches that select both {@code p} and {@code j}
 * (a key several branches share counts once per branch). Computed in float64 from float32 {@code q, k}.
 */
public final class AttentionProbe {

    /**
     * One branch's part in a query's attention.
     *
     * @param selects whether the branch selects the query for this head (else it contributes nothing)
     * @param weight  its mixing weight, the softmax of the branches' lse over those that select the query
     * @param keys    how many keys it attends to for this query
     */
    public record BranchWeight(Branch branch, boolean selects, double weight, int keys) {
    }

    /** A key position and its probability in the mixed distribution. */
    public record KeyWeight(long position, double probability) {
    }

    /** What query {@code query}, head {@code head} attends to: every branch, then the top keys, most probable first. */
    public record Probe(long query, int head, List<BranchWeight> branches, List<KeyWeight> keys) {
    }

    private final DilatedAttentionConfig config;

    public AttentionProbe(DilatedAttentionConfig config) {
        this.config = config;
    }

    /**
     * The probe of query {@code query}, head {@code head}, over {@code q, k} ({@code [n][H][d]}, after any
     * position encoding, as the attention kernel receives them), keeping the {@code topK} most probable keys
     * (ties: lower position first).
     *
     * @throws IllegalArgumentException for arrays shorter than {@code n} rows, a query or head out of range,
     *     or {@code topK < 1}
     */
    public Probe probe(float[] q, float[] k, int n, long query, int head, int topK) {
        int heads = config.heads();
        int d = config.headDim();
        long rows = (long) n * heads * d;
        if (n < 1 || q.length < rows || k.length < rows) {
            throw new IllegalArgumentException("q and k must hold n x heads x d = " + n + " x " + heads + " x " + d
                    + " values (got " + q.length + " and " + k.length + ")");
        }
        if (query < 0 || query >= n) {
            throw new IllegalArgumentException("query position " + query + " is not in [0, " + n + ")");
        }
        if (head < 0 || head >= heads) {
            throw new IllegalArgumentException("head " + head + " is not in [0, " + heads + ")");
        }
        if (topK < 1) {
            throw new IllegalArgumentException("top_k must be >= 1 (got " + topK + ")");
        }
        int p = (int) query;
        double scale = 1 / Math.sqrt(d);
        int qAt = (p * heads + head) * d;
        List<Branch> branches = config.branches();
        // Per branch: the first selected key, the dilation, and the keys' scores, then each branch's lse.
        int[] first = new int[branches.size()];
        double[][] scores = new double[branches.size()][];
        double[] lse = new double[branches.size()];
        double max = Double.NEGATIVE_INFINITY;
        for (int b = 0; b < branches.size(); b++) {
            Branch br = branches.get(b);
            int w = br.segmentLength();
            int r = br.dilation();
            int start = p / w * w;
            int end = (int) Math.min((long) start + w, n);
            int offset = config.offset(br, head);
            lse[b] = Double.NEGATIVE_INFINITY;
            if ((p - start) % r != offset) {
                continue; // this head of this branch does not select the query
            }
            first[b] = start + offset;
            int last = config.causal() ? p : end - 1;
            double[] s = new double[(last - first[b]) / r + 1];
            double m = Double.NEGATIVE_INFINITY;
            for (int t = 0; t < s.length; t++) {
                int kAt = ((first[b] + t * r) * heads + head) * d;
                double dot = 0;
                for (int c = 0; c < d; c++) {
                    dot += (double) q[qAt + c] * k[kAt + c];
                }
                s[t] = dot * scale;
                m = Math.max(m, s[t]);
            }
            double sum = 0;
            for (double x : s) {
                sum += Math.exp(x - m);
            }
            scores[b] = s;
            lse[b] = m + Math.log(sum);
            max = Math.max(max, lse[b]);
        }
        double total = 0;
        for (double x : lse) {
            total += Math.exp(x - max);
        }
        double mixedLse = max + Math.log(total);
        List<BranchWeight> weights = new ArrayList<>(branches.size());
        int count = 0;
        for (int b = 0; b < branches.size(); b++) {
            boolean selects = scores[b] != null;
            weights.add(new BranchWeight(branches.get(b), selects, selects ? Math.exp(lse[b] - mixedLse) : 0,
                    selects ? scores[b].length : 0));
            count += selects ? scores[b].length : 0;
        }
        return new Probe(query, head, List.copyOf(weights), topKeys(branches, first, scores, mixedLse, count, topK));
    }

    /**
     * The {@code topK} most probable keys: every branch's keys with {@code exp(score − lse)}, keys that
     * several branches share summed, sorted by position (packed into longs, so that a primitive sort does it).
     */
    private static List<KeyWeight> topKeys(List<Branch> branches, int[] first, double[][] scores, double mixedLse,
                                           int count, int topK) {
        long[] packed = new long[count];
        double[] prob = new double[count];
        int at = 0;
        for (int b = 0; b < branches.size(); b++) {
            if (scores[b] == null) {
                continue;
            }
            int r = branches.get(b).dilation();
            for (int t = 0; t < scores[b].length; t++) {
                packed[at] = ((long) (first[b] + t * r) << 32) | at;
                prob[at] = Math.exp(scores[b][t] - mixedLse);
                at++;
            }
        }
        Arrays.sort(packed);
        long[] positions = new long[count];
        double[] merged = new double[count];
        int distinct = 0;
        for (int i = 0; i < count; i++) {
            long position = packed[i] >>> 32;
            double pr = prob[(int) (packed[i] & 0xffffffffL)];
            if (distinct > 0 && positions[distinct - 1] == position) {
                merged[distinct - 1] += pr;
            } else {
                positions[distinct] = position;
                merged[distinct++] = pr;
            }
        }
        Integer[] order = new Integer[distinct];
        for (int i = 0; i < distinct; i++) {
            order[i] = i;
        }
        // Most probable first; positions ascend already, so a stable sort keeps ties in position order.
        Arrays.sort(order, (a, b) -> Double.compare(merged[b], merged[a]));
        List<KeyWeight> keys = new ArrayList<>(Math.min(topK, distinct));
        for (int i = 0; i < Math.min(topK, distinct); i++) {
            keys.add(new KeyWeight(positions[order[i]], merged[order[i]]));
        }
        return List.copyOf(keys);
    }
}
