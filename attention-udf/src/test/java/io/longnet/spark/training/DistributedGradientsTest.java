package io.longnet.spark.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.attention.TrainingAttention;
import io.longnet.model.LongNetConfig;
import io.longnet.model.WeightInit;
import io.longnet.spark.SparkSessionExtension;
import io.longnet.training.ParameterLayout;
import io.longnet.training.TrainableModel;
import io.longnet.training.TrainingAttentions;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Loss and gradients of a batch through Spark equal the single-process model's (summed over the batch),
 * data-parallel and sequence-parallel (branches spanning 2 and 4 partitions), and are bit-identical when
 * computed again.
 */
class DistributedGradientsTest {

    @RegisterExtension
    static final SparkSessionExtension SPARK = new SparkSessionExtension();

    private static final long SEED = 20261126L;

    private static List<TrainingWindow> windows(int count, int length, int vocab, Random random) {
        List<TrainingWindow> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int[] t = new int[length];
            for (int j = 0; j < length; j++) {
                t[j] = random.nextInt(vocab);
            }
            out.add(new TrainingWindow(i, t));
        }
        return out;
    }

    private static double relativeError(double[] got, double[] want) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < want.length; i++) {
            num += (got[i] - want[i]) * (got[i] - want[i]);
            den += want[i] * want[i];
        }
        return Math.sqrt(num / den);
    }

    private void check(LongNetConfig config, int length, int partitionLength, boolean expectSpread) {
        System.out.println("seed " + SEED + ", config " + config + ", N " + length + ", L " + partitionLength);
        Random random = new Random(SEED);
        double[] params = ParameterLayout.of(config).flatten(WeightInit.initialize(config, SEED));
        List<TrainingWindow> all = windows(5, length, config.vocabSize(), random);
        List<Long> batch = List.of(3L, 0L, 4L);

        TrainableModel model = new TrainableModel(config, params);
        TrainingAttention attention = TrainingAttentions.of(config);
        double[] want = new double[params.length];
        double wantLoss = 0;
        for (long id : batch) {
            wantLoss += model.lossAndGradient(all.get((int) id).tokens(), attention, want);
        }

        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(SPARK.session().sparkContext());
        JavaRDD<TrainingWindow> rdd = jsc.parallelize(all, 2);
        Broadcast<double[]> b = jsc.broadcast(params);
        DistributedGradients gradients = new DistributedGradients(config, length, partitionLength, 2);
        assertEquals(expectSpread, gradients.sequenceParallel());
        GradientSum got = gradients.compute(rdd, batch, b, true);
        GradientSum again = gradients.compute(rdd, batch, b, true);
        GradientSum loss = gradients.compute(rdd, batch, b, false);

        assertEquals(3L * (length - 1), got.predictions());
        assertEquals(wantLoss, got.loss(), 1e-9 * Math.abs(wantLoss));
        assertEquals(wantLoss, loss.loss(), 1e-9 * Math.abs(wantLoss));
        double err = relativeError(got.gradient(), want);
        assertTrue(err < 1e-9, "relative gradient error " + err);
        assertArrayEquals(got.gradient(), again.gradient(), "the same step twice gives the same bits");
        assertFalse(allZero(want));
    }

    private static boolean allZero(double[] a) {
        for (double x : a) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }

    @Test
    void dataParallelEqualsSingleProcess() {
        check(LongNetConfig.of(13, 8, 2, 2, 16, "4:1,8:2"), 12, 0, false);
    }

    @Test
    void sequenceParallelEqualsSingleProcessWithSpanningBranches() {
        // L = 8: branch 16:2 spans 2 partitions, 32:4 spans 4; N = 32 gives 4 partitions.
        check(LongNetConfig.of(13, 8, 2, 2, 16, "8:1,16:2,32:4"), 32, 8, true);
    }

    @Test
    void sequenceParallelNonCausalRaggedTail() {
        LongNetConfig config = LongNetConfig.of(13, 8, 2, 1, 16, "4:1,8:2,16:4").withCausal(false);
        // N = 28 over L = 8: a ragged last partition, and segments of 16 cut short.
        check(config, 28, 8, true);
    }
}
