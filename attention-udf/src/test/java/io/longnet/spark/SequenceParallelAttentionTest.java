package io.longnet.spark;

import io.longnet.attention.Backend;
import io.longnet.attention.Tensors;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.attention.AttentionResult;
import io.longnet.attention.Branch;
import io.longnet.attention.CpuAttentionKernel;
import io.longnet.attention.DilatedAttentionConfig;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.IntStream;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SequenceParallelAttentionTest {

    @RegisterExtension
    static final SparkSessionExtension SPARK = new SparkSessionExtension();

    /** Test-only source: slices of in-memory arrays, one block per partition. */
    static JavaRDD<QkvPartition> blocks(PartitionPlan plan, float[] q, float[] k, float[] v) {
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(SPARK.session().sparkContext());
        int width = plan.config().rowWidth();
        List<Integer> ids = new ArrayList<>();
        IntStream.range(0, plan.partitions()).forEach(ids::add);
        return jsc.parallelize(ids, plan.partitions()).map(p -> {
            int from = (int) plan.start(p) * width;
            int to = from + plan.length(p) * width;
            return new QkvPartition(p, plan.start(p), plan.length(p), Arrays.copyOfRange(q, from, to),
                    Arrays.copyOfRange(k, from, to), Arrays.copyOfRange(v, from, to));
        });
    }

    /** Runs the plan and stitches the blocks back together (tests only: never collect in a job). */
    static float[][] run(PartitionPlan plan, float[] q, float[] k, float[] v) {
        DilatedAttentionConfig c = plan.config();
        float[] o = new float[(int) plan.n() * c.rowWidth()];
        float[] lse = new float[(int) plan.n() * c.heads()];
        for (AttentionPartition b : SequenceParallelAttention.attend(blocks(plan, q, k, v), plan, Backend.CPU).collect()) {
            System.arraycopy(b.o(), 0, o, (int) b.start() * c.rowWidth(), b.o().length);
            System.arraycopy(b.lse(), 0, lse, (int) b.start() * c.heads(), b.lse().length);
        }
        return new float[][] {o, lse};
    }


    @ParameterizedTest(name = "{0} causal={3} N={4} L={5}")
    @CsvSource(delimiter = '|', value = {
        "32:1,64:2,128:4,256:6,512:12 | 6 | 16 | false | 1500 | 2048",
        "32:1,64:2,128:4,256:6,512:12 | 6 | 16 | true  | 1500 | 256",
        "32:1,64:2,128:4,256:6,512:12 | 6 | 16 | false | 1500 | 128",
        "32:1,64:2,128:4,256:6,512:12 | 5 | 8  | true  | 1111 | 64",
        "256:1,512:3                  | 3 | 32 | true  | 900  | 32",
        "256:1,512:3                  | 3 | 32 | false | 2000 | 256",
    })
    void jobEqualsTheSingleProcessEngine(String branches, int heads, int d, boolean causal, int n, int len) {
        DilatedAttentionConfig c = DilatedAttentionConfig.of(Branch.parseList(branches), heads, d, causal);
        SplittableRandom rnd = new SplittableRandom(n + 7L * len);
        float[] q = random(rnd, n * c.rowWidth(), 2);
        float[] k = random(rnd, n * c.rowWidth(), 2);
        float[] v = random(rnd, n * c.rowWidth(), 1);
        PartitionPlan plan = PartitionPlan.of(c, n, len, 0);
        float[][] got = run(plan, q, k, v);
        AttentionResult want;
        try (CpuAttentionKernel kernel = new CpuAttentionKernel(1)) {
            want = kernel.forward(c, q, k, v);
        }
        String what = plan.describe();
        assertTrue(Tensors.relativeError(got[0], want.oArray()) < 1e-5, what + ": o");
        assertTrue(Tensors.relativeError(got[1], want.lseArray()) < 1e-5, what + ": lse");
    }

    @Test
    void shuffleBytesPerPartitionDoNotGrowWithTheSequence() throws Exception {
        DilatedAttentionConfig c = DilatedAttentionConfig.of(Branch.parseList("64:1,256:2,512:4"), 4, 16, false);
        long small = maxShuffleReadPerTask(c, 4096, 64);
        long large = maxShuffleReadPerTask(c, 8192, 64);
        assertTrue(small > 0, "the spanning branches were exchanged");
        assertTrue(large <= small * 1.02, "shuffle read per partition " + small + " B at N=4096, " + large
                + " B at N=8192");
        // Each partition receives H * w/r * d keys and values per spanning branch (8 rows of 64 per
        // partition for 256:2 over 4 partitions, 8 for 512:4 over 8): about 2 * 4 * (128 + 128) * 16 * 4 B.
        assertTrue(large < 2.5 * 2 * 4 * (128 + 128) * 16 * 4, "payload-sized shuffle: " + large + " B");
    }

    private static long maxShuffleReadPerTask(DilatedAttentionConfig c, int n, int len) throws Exception {
        SplittableRandom rnd = new SplittableRandom(n);
        float[] q = random(rnd, n * c.rowWidth(), 1);
        float[] k = random(rnd, n * c.rowWidth(), 1);
        float[] v = random(rnd, n * c.rowWidth(), 1);
        Map<Long, Long> readByTask = new ConcurrentHashMap<>();
        SparkListener listener = new SparkListener() {
            @Override
            public void onTaskEnd(SparkListenerTaskEnd end) {
                if (end.taskMetrics() != null) {
                    readByTask.put(end.taskInfo().taskId(),
                            end.taskMetrics().shuffleReadMetrics().totalBytesRead());
                }
            }
        };
        SPARK.session().sparkContext().addSparkListener(listener);
        try {
            run(PartitionPlan.of(c, n, len, 0), q, k, v);
            SPARK.session().sparkContext().listenerBus().waitUntilEmpty();
        } finally {
            SPARK.session().sparkContext().removeSparkListener(listener);
        }
        return readByTask.values().stream().mapToLong(Long::longValue).max().orElse(0);
    }

    @Test
    void impossiblePartitionLengthNamesValidOnes() {
        DilatedAttentionConfig c = DilatedAttentionConfig.of(Branch.parseList("2048:1,4096:2,8192:4"), 4, 32, false);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PartitionPlan.of(c, 100_000, 3000, 0));
        assertEquals("partition length 3000 does not fit branch 2048:1: L must divide or be a multiple of every"
                + " segment length; valid: 512, 1024, 2048, 4096, 8192, 16384", e.getMessage());
    }

    @Test
    void automaticLengthIsAPowerOfTwoThatFitsEveryBranch() {
        DilatedAttentionConfig c = DilatedAttentionConfig.of(Branch.parseList("2048:1,4096:2,8192:4"), 4, 32, false);
        PartitionPlan plan = PartitionPlan.of(c, 1 << 24, 0, PartitionPlan.DEFAULT_TASK_BYTES);
        // 96 MiB / (3 * 4 * 32 * 4 B) = 65536 positions per task.
        assertEquals(65536, plan.partitionLength());
        assertEquals(List.of(), plan.spanning());
        assertEquals(4096, PartitionPlan.of(c, 3000, 0, PartitionPlan.DEFAULT_TASK_BYTES).partitionLength(),
                "never much longer than the sequence");
        PartitionPlan split = PartitionPlan.of(c, 1 << 20, 2048, 0);
        assertEquals(List.of(new Branch(4096, 2), new Branch(8192, 4)), split.spanning());
        assertEquals(4, split.partitionsPerSegment(new Branch(8192, 4)));
    }

    /**
     * Attention plans for its backend: on CPUs (and where auto finds no GPU) the CPU size; config A's GPU
     * size is 4 GiB of q, k, v (9216 B a position): L = 458752 = 14 x 32768, the valid length nearest
     * 466033 positions, every branch local; a requested L is taken as it is.
     */
    @Test
    void attentionPlansForItsBackend() {
        DilatedAttentionConfig a = DilatedAttentionConfig.of(
                Branch.parseList("2048:1,4096:2,8192:4,16384:6,32768:12"), 12, 64, true);
        long n = 1 << 20;
        var sc = SPARK.session().sparkContext();
        assertEquals(8192, PartitionPlan.forAttention(sc, io.longnet.attention.Backend.CPU, a, n, 0).partitionLength());
        assertEquals(PartitionPlan.of(a, n, 0, PartitionPlan.DEFAULT_TASK_BYTES),
                PartitionPlan.forAttention(sc, io.longnet.attention.Backend.CPU, a, n, 0));
        assertEquals(65536, PartitionPlan.forAttention(sc, io.longnet.attention.Backend.CPU, a, n, 65536)
                .partitionLength(), "requested");
        PartitionPlan gpu = PartitionPlan.of(a, n, 0, PartitionPlan.GPU_TASK_BYTES);
        assertEquals(14 * 32768, gpu.partitionLength(), "GPU-sized");
        assertEquals(List.of(), gpu.spanning(), "no exchange");
        if (io.longnet.attention.Backend.AUTO.usableGpu(io.longnet.attention.AttentionKernelProvider.class, 0,
                "backend").isEmpty()) {
            assertEquals(8192, PartitionPlan.forAttention(sc, io.longnet.attention.Backend.AUTO, a, n, 0)
                    .partitionLength(), "auto without a usable GPU plans for the CPU");
        }
    }

    /**
     * A chosen L for a token dataset is also a multiple of its blocks: the bench model's GPU target (4 GiB of
     * q, k, v at 3,072 B a position: 1,398,101 positions) gives 1,396,736 = 341 x 4096 with blocks of 4096,
     * not the nearer 1,397,760 = 1365 x 1024 that blocks of 4096 would straddle. For segments of 100 and
     * 300 the nearest length that blocks of 4096 do not straddle is 307,200 (1024 x 300), far above the
     * target but a plan that runs, where the target's 1,500 would be refused.
     */
    @Test
    void aChosenLengthIsAMultipleOfTheBlocks() {
        DilatedAttentionConfig bench = DilatedAttentionConfig.of(Branch.parseList("256:1,512:2,1024:4"), 4, 64, true);
        long n = 64L << 20;
        assertEquals(1_397_760, PartitionPlan.of(bench, n, 0, PartitionPlan.GPU_TASK_BYTES).partitionLength());
        PartitionPlan blocks = PartitionPlan.of(bench, n, 0, PartitionPlan.GPU_TASK_BYTES, 4096);
        assertEquals(1_396_736, blocks.partitionLength());
        assertEquals(List.of(), blocks.spanning());
        assertEquals(8192, PartitionPlan.of(bench, n, 8192, PartitionPlan.GPU_TASK_BYTES, 4096).partitionLength(),
                "a requested L is taken as it is");
        DilatedAttentionConfig odd = DilatedAttentionConfig.of(Branch.parseList("100:1,300:7"), 2, 32, true);
        assertEquals(1_500, PartitionPlan.of(odd, 1_000_000, 0, 1L << 20).partitionLength());
        assertEquals(307_200, PartitionPlan.of(odd, 1_000_000, 0, 1L << 20, 4096).partitionLength());
    }

    private static float[] random(SplittableRandom rnd, int size, double scale) {
        float[] a = new float[size];
        for (int i = 0; i < size; i++) {
            a[i] = (float) ((rnd.nextDouble() * 2 - 1) * scale);
        }
        return a;
    }
}
