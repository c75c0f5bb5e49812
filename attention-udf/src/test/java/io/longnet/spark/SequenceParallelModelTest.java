package io.longnet.spark;

import io.longnet.attention.Backend;
import io.longnet.attention.Tensors;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.attention.CpuAttentionKernel;
import io.longnet.model.LongNetConfig;
import io.longnet.model.LongNetModel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The model through the sequence-parallel plan equals the single-process model. */
class SequenceParallelModelTest {

    @RegisterExtension
    static final SparkSessionExtension SPARK = new SparkSessionExtension();

    @org.junit.jupiter.api.io.TempDir
    static java.nio.file.Path checkpoints;

    static JavaRDD<SequenceParallelModel.TokenPartition> tokens(PartitionPlan plan, int[] ids) {
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(SPARK.session().sparkContext());
        List<Integer> parts = new ArrayList<>();
        IntStream.range(0, plan.partitions()).forEach(parts::add);
        return jsc.parallelize(parts, plan.partitions()).map(p -> {
            int from = (int) plan.start(p);
            int to = from + plan.length(p);
            return new SequenceParallelModel.TokenPartition(p, from, Arrays.copyOfRange(ids, from, to),
                    to < ids.length ? ids[to] : -1);
        });
    }


    @ParameterizedTest(name = "{0} causal={1} N={2} L={3}")
    @CsvSource(delimiter = '|', value = {
        "8:1,16:2,32:4 | true  | 100 | 128",
        "8:1,16:2,32:4 | true  | 100 | 16",
        "8:1,16:2,32:4 | true  | 100 | 8",
        "8:1,16:2,32:4 | false | 77  | 8",
        "16:1,48:3     | true  | 90  | 16",
    })
    void equalsTheSingleProcessModel(String branches, boolean causal, int n, int len) {
        LongNetConfig base = LongNetConfig.of(50, 16, 2, 2, 32, branches);
        LongNetConfig config = new LongNetConfig(base.vocabSize(), base.dModel(), base.heads(), base.layers(),
                base.ffnDim(), base.branches(), causal, base.subLn(), base.xposScaleBase(), base.layerNormEps(),
                base.headOffset());
        LongNetModel model = LongNetModel.initialize(config, 7);
        SplittableRandom rnd = new SplittableRandom(n + len);
        int[] ids = IntStream.range(0, n).map(i -> rnd.nextInt(50)).toArray();

        LongNetModel.Output want;
        float[] wantLp;
        try (CpuAttentionKernel kernel = new CpuAttentionKernel(1)) {
            want = model.forward(ids, kernel, true);
            wantLp = model.nextTokenLogProbs(ids, kernel);
        }
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(SPARK.session().sparkContext());
        jsc.setCheckpointDir(checkpoints.toString()); // checkpoints after every layer: exercised here
        SequenceParallelModel spm = new SequenceParallelModel(jsc, config, model.weights(), n, len, Backend.CPU, 1);
        PartitionPlan plan = spm.plan();
        String what = plan.describe();

        float[] layer1 = stitch(spm.hidden(tokens(plan, ids), 1).collect(), n * 16);
        assertTrue(Tensors.relativeError(layer1, want.hiddenStates().get(1)) < 1e-5, what + ": hidden states after layer 1");
        float[] features = stitch(spm.features(tokens(plan, ids)).collect(), n * 16);
        assertTrue(Tensors.relativeError(features, want.features()) < 1e-5, what + ": final features");
        float[] lp = new float[n - 1];
        for (SequenceParallelModel.LogProbPartition b : spm.nextTokenLogProbs(tokens(plan, ids)).collect()) {
            System.arraycopy(b.logProbs(), 0, lp, (int) b.start(), b.logProbs().length);
        }
        assertTrue(Tensors.relativeError(lp, wantLp) < 1e-5, what + ": next-token log-probabilities");
    }

    /** Test-only: the blocks back in one array (never collect a sequence in a job). */
    private static float[] stitch(List<SequenceParallelModel.HiddenPartition> blocks, int size) {
        float[] out = new float[size];
        for (SequenceParallelModel.HiddenPartition b : blocks) {
            System.arraycopy(b.x(), 0, out, (int) b.start() * 16, b.x().length);
        }
        return out;
    }
}
