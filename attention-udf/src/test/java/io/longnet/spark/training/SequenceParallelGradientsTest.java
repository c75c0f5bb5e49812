package io.longnet.spark.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.attention.Branch;
import io.longnet.attention.DilatedAttentionConfig;
import io.longnet.attention.DilatedAttentionGradients;
import io.longnet.attention.HeadOffset;
import io.longnet.spark.PartitionPlan;
import io.longnet.spark.SparkSessionExtension;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SequenceParallelGradientsTest {

    @RegisterExtension
    static final SparkSessionExtension SPARK = new SparkSessionExtension();

    private static JavaSparkContext jsc() {
        return JavaSparkContext.fromSparkContext(SPARK.session().sparkContext());
    }

    private static List<Integer> ids(PartitionPlan plan) {
        List<Integer> ids = new ArrayList<>();
        IntStream.range(0, plan.partitions()).forEach(ids::add);
        return ids;
    }

    /** Test-only source: slices of in-memory arrays, one block per partition. */
    static JavaRDD<TrainingQkv> qkv(PartitionPlan plan, double[] q, double[] k, double[] v) {
        int width = plan.config().rowWidth();
        return jsc().parallelize(ids(plan), plan.partitions()).map(p -> {
            int from = (int) plan.start(p) * width;
            int to = from + plan.length(p) * width;
            return new TrainingQkv(p, plan.start(p), plan.length(p), Arrays.copyOfRange(q, from, to),
                    Arrays.copyOfRange(k, from, to), Arrays.copyOfRange(v, from, to));
        });
    }

    static JavaRDD<RowPartition> rows(PartitionPlan plan, double[] values) {
        int width = plan.config().rowWidth();
        return jsc().parallelize(ids(plan), plan.partitions()).map(p -> {
            int from = (int) plan.start(p) * width;
            return new RowPartition(p, plan.start(p), plan.length(p),
                    Arrays.copyOfRange(values, from, from + plan.length(p) * width));
        });
    }

    @ParameterizedTest(name = "{0} H={1} d={2} causal={3} N={4} L={5} {6}")
    @CsvSource(delimiter = '|', value = {
        // 128:2 spans 2 partitions, 256:4 spans 4; N ragged: the last 256-segment covers one short partition.
        "32:1,64:2,128:2,256:4 | 3 | 8 | true  | 300 | 64  | PAPER",
        "32:1,64:2,128:2,256:4 | 3 | 8 | false | 300 | 64  | PAPER",
        "64:1,128:3,256:5      | 4 | 4 | true  | 500 | 64  | CONTIGUOUS_GROUPS",
        "64:1,128:3,256:5      | 4 | 4 | false | 450 | 64  | CONTIGUOUS_GROUPS",
        // Every branch spans partitions (no local branch), 8 partitions per 256-segment.
        "64:1,256:6            | 2 | 4 | true  | 333 | 32  | PAPER",
        // No spanning branch: one stage, no shuffle.
        "32:1,64:2             | 2 | 4 | true  | 150 | 64  | PAPER",
    })
    void jobEqualsTheSingleProcessEngine(String branches, int heads, int d, boolean causal, int n, int len,
                                         HeadOffset mode) {
        DilatedAttentionConfig c = new DilatedAttentionConfig(Branch.parseList(branches), heads, d, causal, mode);
        PartitionPlan plan = PartitionPlan.of(c, n, len, 0);
        SplittableRandom rnd = new SplittableRandom(n * 131L + len + (causal ? 1 : 0));
        int size = n * c.rowWidth();
        double[] q = random(rnd, size, 2.0);
        double[] k = random(rnd, size, 2.0);
        double[] v = random(rnd, size, 1.0);
        double[] dO = random(rnd, size, 1.0);

        double[] o = new double[size];
        double[] lse = new double[n * heads];
        double[] dq = new double[size];
        double[] dk = new double[size];
        double[] dv = new double[size];
        try (DilatedAttentionGradients engine = new DilatedAttentionGradients(c)) {
            engine.forward(q, k, v, n, o, lse);
            engine.backward(q, k, v, n, o, lse, dO, dq, dk, dv);
        }

        JavaRDD<TrainingQkv> input = qkv(plan, q, k, v);
        JavaRDD<TrainingOutput> out = SequenceParallelGradients.forward(input, plan);
        double[] gotO = new double[size];
        double[] gotLse = new double[n * heads];
        for (TrainingOutput b : out.collect()) {
            System.arraycopy(b.o(), 0, gotO, (int) b.start() * c.rowWidth(), b.o().length);
            System.arraycopy(b.lse(), 0, gotLse, (int) b.start() * heads, b.lse().length);
        }
        String what = plan.describe();
        assertClose(gotO, o, what + ": o");
        assertClose(gotLse, lse, what + ": lse");

        double[][] got = new double[3][size];
        List<QkvGradient> grads = SequenceParallelGradients.backward(input, out, rows(plan, dO), plan).collect();
        assertEquals(plan.partitions(), grads.size(), "one gradient block per partition");
        for (QkvGradient g : grads) {
            int at = (int) g.start() * c.rowWidth();
            assertEquals(plan.start(g.partition()), g.start());
            System.arraycopy(g.dq(), 0, got[0], at, g.dq().length);
            System.arraycopy(g.dk(), 0, got[1], at, g.dk().length);
            System.arraycopy(g.dv(), 0, got[2], at, g.dv().length);
        }
        assertClose(got[0], dq, what + ": dq");
        assertClose(got[1], dk, what + ": dk");
        assertClose(got[2], dv, what + ": dv");
    }

    @Test
    void inputsMustFollowThePlan() {
        DilatedAttentionConfig c = DilatedAttentionConfig.of(Branch.parseList("32:1,128:2"), 2, 4, true);
        PartitionPlan plan = PartitionPlan.of(c, 200, 64, 0);
        double[] x = random(new SplittableRandom(1), 200 * c.rowWidth(), 1.0);
        JavaRDD<TrainingQkv> input = qkv(plan, x, x, x);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SequenceParallelGradients.forward(input.coalesce(2), plan));
        assertEquals("qkv has 2 partitions, the plan 4 (" + plan.describe() + ")", e.getMessage());
        JavaRDD<TrainingOutput> out = SequenceParallelGradients.forward(input, plan);
        assertThrows(IllegalArgumentException.class,
                () -> SequenceParallelGradients.backward(input, out, rows(plan, x).repartition(3), plan));
    }

    /** Elementwise difference over the largest reference magnitude (see Tensors.relativeError). */
    private static void assertClose(double[] actual, double[] expected, String what) {
        double maxDiff = 0;
        double maxRef = 0;
        for (int i = 0; i < actual.length; i++) {
            double diff = Math.abs(actual[i] - expected[i]);
            maxDiff = Double.isNaN(diff) ? Double.POSITIVE_INFINITY : Math.max(maxDiff, diff);
            maxRef = Math.max(maxRef, Math.abs(expected[i]));
        }
        // The same float64 sums in another order: agreement to rounding, far inside the 1e-5 asked for.
        assertTrue(maxRef > 0 && maxDiff <= 1e-10 * maxRef, what + ": max difference " + maxDiff + " for max "
                + maxRef);
    }

    private static double[] random(SplittableRandom rnd, int size, double scale) {
        double[] a = new double[size];
        for (int i = 0; i < size; i++) {
            a[i] = (rnd.nextDouble() * 2 - 1) * scale;
        }
        return a;
    }
}
