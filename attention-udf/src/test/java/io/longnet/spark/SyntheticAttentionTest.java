package io.longnet.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.attention.Backend;
import io.longnet.attention.BranchTemplate;
import io.longnet.attention.CounterQkv;
import io.longnet.attention.CpuAttentionKernel;
import io.longnet.attention.DilatedAttentionConfig;
import io.longnet.attention.OutputChecksum;
import io.longnet.attention.AttentionResult;
import java.util.List;
import org.apache.spark.api.java.JavaRDD;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Attention over counter-generated inputs through the exchange: the partitions' checksums add up to the
 * single-process engine's over the whole sequence, every partition's sampled rows (some on the dilated
 * branches' rows) pass the float64 check, and the gathered-then-shared exchange gives exactly what the direct
 * one gives.
 */
class SyntheticAttentionTest {

    @RegisterExtension
    static final SparkSessionExtension SPARK = new SparkSessionExtension();

    /** The scaling configuration in small: segments of 16, L and N, 16 rows per sparsified segment. */
    static PartitionPlan plan(int n, int length, boolean causal) {
        DilatedAttentionConfig c = DilatedAttentionConfig.of(new BranchTemplate("16:1,L:L/16,N:N/16")
                .resolve(length, n), 3, 8, causal);
        return PartitionPlan.of(c, n, length, 0);
    }

    static List<SyntheticPartition> run(PartitionPlan plan, CounterQkv inputs, ExchangeMode mode) {
        return SyntheticAttention.attend(SPARK.session().sparkContext(), plan, inputs, Backend.CPU, 4, mode,
                PhaseTimes.NONE).collect();
    }

    @ParameterizedTest(name = "causal={0}")
    @CsvSource({"false", "true"})
    void checksumsAddUpToTheEnginesAndSampledRowsPassTheFloat64Check(boolean causal) {
        PartitionPlan plan = plan(2048, 128, causal);
        assertEquals(1, plan.spanning().size(), plan.describe());
        CounterQkv inputs = CounterQkv.of(20261130, false);
        List<SyntheticPartition> parts = run(plan, inputs, ExchangeMode.AUTO);
        assertEquals(plan.partitions(), parts.size());
        OutputChecksum sum = OutputChecksum.ZERO;
        int onDilatedRows = 0;
        for (SyntheticPartition p : parts) {
            sum = sum.plus(p.checksum());
            assertEquals(4, p.samplePositions().length);
            assertTrue(p.worstError() >= 0 && p.worstError() < 1e-5, "partition " + p.partition() + ": "
                    + p.worstError() + " at " + p.worstPosition());
            for (long pos : p.samplePositions()) {
                assertTrue(pos >= p.start() && pos < p.start() + p.length());
                // Rows the spanning branch 2048:128 selects for some head (offsets h mod 128 = 0, 1, 2).
                onDilatedRows += pos % 128 < 3 ? 1 : 0;
            }
        }
        assertTrue(onDilatedRows >= plan.partitions() / 2, "rows of the spanning branch sampled: " + onDilatedRows);
        DilatedAttentionConfig c = plan.config();
        int n = (int) plan.n();
        float[][] qkv = new float[3][n * c.rowWidth()];
        for (int t = 0; t < 3; t++) {
            inputs.fill(t, 0, n, c.heads(), c.headDim(), qkv[t]);
        }
        try (CpuAttentionKernel kernel = new CpuAttentionKernel(2)) {
            AttentionResult want = kernel.forward(c, qkv[0], qkv[1], qkv[2]);
            OutputChecksum engine = OutputChecksum.of(want.o(), n * c.rowWidth(), want.lse(), n * c.heads());
            // Not bit-identical in general (the spanning branch's keys are summed in another tiling), so the
            // sums are compared as numbers: within float rounding of n * H * d values of size <= 1.
            assertEquals(engine.o() / OutputChecksum.SCALE, sum.o() / OutputChecksum.SCALE, 1e-3);
            assertEquals(engine.lse() / OutputChecksum.SCALE, sum.lse() / OutputChecksum.SCALE, 1e-3);
        }
    }

    @ParameterizedTest(name = "causal={0}")
    @CsvSource({"false", "true"})
    void gatheredThenSharedEqualsTheDirectExchange(boolean causal) {
        PartitionPlan plan = plan(2048, 128, causal);
        CounterQkv inputs = CounterQkv.of(1, true);
        List<SyntheticPartition> direct = run(plan, inputs, ExchangeMode.DIRECT);
        List<SyntheticPartition> gathered = run(plan, inputs, ExchangeMode.GATHERED);
        for (int i = 0; i < direct.size(); i++) {
            SyntheticPartition a = direct.get(i);
            SyntheticPartition b = gathered.get(i);
            assertEquals(a.checksum(), b.checksum(), "partition " + i);
            assertArrayEquals(a.samplePositions(), b.samplePositions());
            assertArrayEquals(a.sampleO(), b.sampleO());
            assertArrayEquals(a.sampleLse(), b.sampleLse());
        }
    }

    /** The stored-input job too: every output bit the same whichever way the spanning branches travel. */
    @Test
    void storedInputsGiveTheSameOutputsEitherWay() {
        PartitionPlan plan = plan(1024, 64, true);
        CounterQkv inputs = CounterQkv.of(2, false);
        int width = plan.config().rowWidth();
        int heads = plan.config().heads();
        JavaRDD<QkvPartition> qkv = plan.partitionIds(SPARK.session().sparkContext()).map(p -> {
            float[][] t = new float[3][plan.length(p) * width];
            for (int i = 0; i < 3; i++) {
                inputs.fill(i, plan.start(p), plan.length(p), heads, width / heads, t[i]);
            }
            return new QkvPartition(p, plan.start(p), plan.length(p), t[0], t[1], t[2]);
        });
        List<AttentionPartition> direct = SequenceParallelAttention.attend(qkv, plan, Backend.CPU, PhaseTimes.NONE,
                ExchangeMode.DIRECT).collect();
        List<AttentionPartition> gathered = SequenceParallelAttention.attend(qkv, plan, Backend.CPU, PhaseTimes.NONE,
                ExchangeMode.GATHERED).collect();
        for (int i = 0; i < direct.size(); i++) {
            assertArrayEquals(direct.get(i).o(), gathered.get(i).o(), "partition " + i);
            assertArrayEquals(direct.get(i).lse(), gathered.get(i).lse(), "partition " + i);
        }
        assertTrue(direct.get(3).o()[5] != 0 && direct.get(3).lse()[2] > 0, "real results compared");
    }
}
