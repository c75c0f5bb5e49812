package io.longnet.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/**
 * The probe against a float64 brute force: dense masked attention over all N keys per branch (the mask of
 * docs/ARCHITECTURE.md §1), branches mixed by lse, the mixed distribution summed per key.
 */
class AttentionProbeTest {

    /** Brute force: every branch's weight and every key's mixed probability, over all n keys. */
    private record Dense(double[] weights, double[] probabilities) {
    }

    private static Dense dense(DilatedAttentionConfig c, float[] q, float[] k, int n, int p, int h) {
        int heads = c.heads();
        int d = c.headDim();
        List<Branch> branches = c.branches();
        double[][] softmax = new double[branches.size()][];
        double[] lse = new double[branches.size()];
        for (int b = 0; b < branches.size(); b++) {
            Branch br = branches.get(b);
            int w = br.segmentLength();
            int r = br.dilation();
            int s = c.offset(br, h);
            lse[b] = Double.NEGATIVE_INFINITY;
            if ((p % w) % r != s) {
                continue;
            }
            double[] e = new double[n];
            double sum = 0;
            for (int j = 0; j < n; j++) {
                boolean visible = j / w == p / w && (j % w) % r == s && (!c.causal() || j <= p);
                if (visible) {
                    double dot = 0;
                    for (int x = 0; x < d; x++) {
                        dot += (double) q[(p * heads + h) * d + x] * k[(j * heads + h) * d + x];
                    }
                    e[j] = Math.exp(dot / Math.sqrt(d));
                    sum += e[j];
                }
            }
            for (int j = 0; j < n; j++) {
                e[j] /= sum;
            }
            softmax[b] = e;
            lse[b] = Math.log(sum);
        }
        double total = 0;
        for (double x : lse) {
            total += Math.exp(x);
        }
        double[] weights = new double[branches.size()];
        double[] probabilities = new double[n];
        for (int b = 0; b < branches.size(); b++) {
            weights[b] = Math.exp(lse[b]) / total;
            for (int j = 0; softmax[b] != null && j < n; j++) {
                probabilities[j] += weights[b] * softmax[b][j];
            }
        }
        return new Dense(weights, probabilities);
    }

    private static float[] random(SplittableRandom rnd, int count) {
        float[] a = new float[count];
        for (int i = 0; i < count; i++) {
            a[i] = (float) (rnd.nextDouble(-1, 1) * 2);
        }
        return a;
    }

    @ParameterizedTest(name = "causal {0}, {1}, seed {2}")
    @CsvSource({"true, PAPER, 1", "false, PAPER, 2", "true, CONTIGUOUS_GROUPS, 3", "false, CONTIGUOUS_GROUPS, 4"})
    void weightsAndTopKeysEqualDenseBruteForce(boolean causal, HeadOffset offsets, long seed) {
        System.out.println("AttentionProbeTest seed " + seed);
        int n = 45; // ragged: not a multiple of any segment
        DilatedAttentionConfig c = new DilatedAttentionConfig(Branch.parseList("8:1,16:2,32:4"), 4, 8, causal, offsets);
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] q = random(rnd, n * 4 * 8);
        float[] k = random(rnd, n * 4 * 8);
        AttentionProbe probe = new AttentionProbe(c);
        for (int p = 0; p < n; p++) {
            for (int h = 0; h < 4; h++) {
                Dense want = dense(c, q, k, n, p, h);
                AttentionProbe.Probe got = probe.probe(q, k, n, p, h, 5);
                double weightSum = 0;
                for (int b = 0; b < c.branches().size(); b++) {
                    AttentionProbe.BranchWeight bw = got.branches().get(b);
                    assertEquals(want.weights()[b], bw.weight(), 1e-12, "weight of " + bw.branch() + " at " + p);
                    assertEquals(want.weights()[b] > 0, bw.selects());
                    weightSum += bw.weight();
                }
                assertEquals(1, weightSum, 1e-12, "weights sum to 1 at query " + p + " head " + h);
                List<Integer> order = new ArrayList<>();
                for (int j = 0; j < n; j++) {
                    if (want.probabilities()[j] > 0) {
                        order.add(j);
                    }
                }
                order.sort(Comparator.comparingDouble((Integer j) -> -want.probabilities()[j]));
                assertEquals(Math.min(5, order.size()), got.keys().size());
                for (int i = 0; i < got.keys().size(); i++) {
                    AttentionProbe.KeyWeight kw = got.keys().get(i);
                    assertEquals((long) order.get(i), kw.position(), "rank " + i + " at query " + p + " head " + h);
                    assertEquals(want.probabilities()[order.get(i)], kw.probability(), 1e-12);
                }
                // With room for every key, the mixed distribution sums to 1.
                double all = 0;
                for (AttentionProbe.KeyWeight kw : probe.probe(q, k, n, p, h, n).keys()) {
                    all += kw.probability();
                }
                assertEquals(1, all, 1e-12);
            }
        }
    }

    /** A key in two branches' segments gets both branches' shares: positions appear once, probabilities add. */
    @Test
    void sharedKeysAreMergedOnce() {
        DilatedAttentionConfig c = DilatedAttentionConfig.of(Branch.parseList("4:1,8:2"), 1, 2, true);
        float[] q = new float[8 * 2];
        float[] k = new float[8 * 2];
        java.util.Arrays.fill(q, 1);
        AttentionProbe.Probe got = new AttentionProbe(c).probe(q, k, 8, 6, 0, 8);
        // All scores 0: branch 4:1 has keys 4,5,6 (lse ln 3), branch 8:2 keys 0,2,4,6 (lse ln 4).
        assertEquals(3.0 / 7, got.branches().get(0).weight(), 1e-15);
        assertEquals(4.0 / 7, got.branches().get(1).weight(), 1e-15);
        assertEquals(List.of(4L, 6L, 0L, 2L, 5L), got.keys().stream().map(AttentionProbe.KeyWeight::position).toList());
        assertEquals(2.0 / 7, got.keys().get(0).probability(), 1e-15);
        assertEquals(1.0 / 7, got.keys().get(4).probability(), 1e-15);
    }

    @Test
    void badArgumentsAreNamed() {
        AttentionProbe probe = new AttentionProbe(DilatedAttentionConfig.of(Branch.parseList("4:1"), 2, 2, true));
        float[] a = new float[5 * 2 * 2];
        assertTrue(assertThrows(IllegalArgumentException.class, () -> probe.probe(a, a, 5, 5, 0, 1)).getMessage()
                .startsWith("query position 5 is not in [0, 5)"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> probe.probe(a, a, 5, 0, 2, 1)).getMessage()
                .startsWith("head 2 is not in [0, 2)"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> probe.probe(a, a, 5, 0, 0, 0)).getMessage()
                .startsWith("top_k must be >= 1"));
        assertFalse(assertThrows(IllegalArgumentException.class, () -> probe.probe(a, a, 6, 0, 0, 1)).getMessage()
                .isEmpty());
    }
}
