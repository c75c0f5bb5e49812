package io.longnet.gpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.attention.Backend;
import io.longnet.attention.Branch;
import io.longnet.attention.CpuAttentionKernel;
import io.longnet.attention.HeadOffset;
import io.longnet.attention.Tensors;
import io.longnet.model.LongNetConfig;
import io.longnet.model.LongNetModel;
import io.longnet.model.ModelDecoder;
import io.longnet.model.ModelDecoders;
import io.longnet.model.SequenceWindow;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The device-resident decoder equals the CPU model ({@link LongNetModel} with the CPU attention engine) on
 * seeded random weights: every hidden state, the final features and the next-token log-probs, within 1e-4
 * relative in fp32 and 2e-2 in bf16 (skipped, with the reason, where no CUDA device exists).
 */
@Tag("gpu")
@EnabledIf(value = "gpuAvailable", disabledReason = "no usable CUDA device (or cuBLAS 13) here; the GPU tests run"
        + " on a GPU machine through gpu-native/scripts/device-run.sh")
class DeviceDecoderTest {

    static boolean gpuAvailable() {
        return new GpuModelDecoderProvider().unavailableReason() == null;
    }

    /**
     * Ragged N (a multiple of no segment length), w = 300 not a multiple of r = 7, a vocabulary of 50,000
     * (four LM-head chunks, the last one short), sub-LN on and off, causal and not, both head offsets.
     */
    @ParameterizedTest(name = "{0} H={1} d_model={2} causal={3} subLn={4} N={5} V={6} {7}")
    @CsvSource(delimiter = '|', value = {
        "100:1,300:7       | 2 | 64  | true  | true  | 777  | 50000 | PAPER",
        "100:1,300:7       | 2 | 64  | true  | false | 777  | 50000 | PAPER",
        "100:1,300:7       | 2 | 64  | false | true  | 777  | 50000 | CONTIGUOUS_GROUPS",
        "64:1,128:2,256:4  | 4 | 256 | true  | true  | 1000 | 258   | PAPER",
        "64:1,128:2,256:4  | 4 | 256 | true  | false | 1000 | 258   | PAPER",
        "48:1,96:5         | 3 | 384 | true  | true  | 333  | 1000  | PAPER",
    })
    void matchesTheCpuModel(String branches, int heads, int dModel, boolean causal, boolean subLn, int n, int vocab,
                            HeadOffset offset) {
        LongNetConfig config = new LongNetConfig(vocab, dModel, heads, 2, 4 * dModel, Branch.parseList(branches), causal,
                subLn, 512, 1e-5, offset);
        long seed = 1000L * n + dModel + (subLn ? 1 : 0);
        LongNetModel model = LongNetModel.initialize(config, seed);
        int[] tokens = new SplittableRandom(seed).ints(n, 0, vocab).toArray();
        LongNetModel.Output want;
        float[] wantLp;
        try (CpuAttentionKernel cpu = new CpuAttentionKernel()) {
            want = model.forward(tokens, cpu, true);
            wantLp = model.nextTokenLogProbs(tokens, cpu);
        }
        for (Precision p : Precision.values()) {
            double bound = p == Precision.FP32 ? 1e-4 : 2e-2;
            // Logit blocks of 100 rows: several row blocks, the last one ragged.
            try (DeviceDecoder gpu = new DeviceDecoder(model, 0, p, 4L * 100 * Math.min(vocab, 16_384))) {
                LongNetModel.Output got = gpu.forward(tokens, true);
                float[] gotLp = gpu.nextTokenLogProbs(tokens);
                assertEquals(config.layers() + 1, got.hiddenStates().size());
                StringBuilder report = new StringBuilder();
                for (int l = 0; l <= config.layers(); l++) {
                    double e = Tensors.relativeError(got.hiddenStates().get(l), want.hiddenStates().get(l));
                    report.append(String.format(" h%d %.2e", l, e));
                    assertTrue(e < bound, p + ": hidden states after layer " + l + " off by " + e + " (seed " + seed + ")");
                }
                double ef = Tensors.relativeError(got.features(), want.features());
                double el = Tensors.relativeError(gotLp, wantLp);
                System.out.printf("%s H=%d D=%d causal=%s subLn=%s N=%d V=%d %s %s:%s features %.2e logprobs %.2e%n",
                        branches, heads, dModel, causal, subLn, n, vocab, offset, p, report, ef, el);
                assertTrue(ef < bound, p + ": features off by " + ef + " (seed " + seed + ")");
                assertTrue(el < bound, p + ": log-probs off by " + el + " (seed " + seed + ")");
                assertArrayEquals(got.hiddenStates().get(1), gpu.hiddenStates(tokens, 1),
                        "hiddenStates(tokens, 1) is forward's output of layer 1");
            }
        }
    }

    /** The model finds the decoder through ServiceLoader; bad input is refused before anything runs. */
    @Test
    void foundThroughTheModelsBackendChoice() {
        LongNetConfig config = LongNetConfig.of(1000, 64, 2, 1, 128, "32:1,64:2");
        LongNetModel model = LongNetModel.initialize(config, 5);
        int[] tokens = new SplittableRandom(5).ints(100, 0, 1000).toArray();
        System.setProperty(Precision.PROPERTY, "fp32");
        try (ModelDecoder gpu = ModelDecoders.open(Backend.AUTO, model, 1, 0);
             ModelDecoder cpu = ModelDecoders.open(Backend.CPU, model, 1, -1)) {
            assertTrue(gpu.name().startsWith("gpu:0"), gpu.name());
            double e = Tensors.relativeError(gpu.nextTokenLogProbs(tokens), cpu.nextTokenLogProbs(tokens));
            assertTrue(e < 1e-4, "log-probs off by " + e);
            assertEquals(0, gpu.nextTokenLogProbs(new int[] {3}).length);
            IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                    () -> gpu.nextTokenLogProbs(new int[] {1, 1000}));
            assertTrue(bad.getMessage().contains("outside the vocabulary"), bad.getMessage());
            assertThrows(IllegalArgumentException.class, () -> gpu.hiddenStates(tokens, 2));
        } finally {
            System.clearProperty(Precision.PROPERTY);
        }
    }

    /**
     * The partitions of a plan whose branches are all local, each computed alone on the device with its
     * absolute positions and the token after it, give the whole sequence's hidden states and log-probs
     * (the CPU model over the whole sequence is the reference): ragged N, w = 300 not a multiple of r = 7,
     * runs of 600 (segment lengths divide it), 50,000 words.
     */
    @ParameterizedTest(name = "causal={0} {1}")
    @CsvSource({"true, FP32", "true, BF16", "false, FP32", "false, BF16"})
    void runsOfALocalPlanMatchTheWholeSequence(boolean causal, Precision p) {
        LongNetConfig config = new LongNetConfig(50_000, 128, 2, 2, 256, Branch.parseList("100:1,300:7"), causal, true,
                512, 1e-5, HeadOffset.PAPER);
        LongNetModel model = LongNetModel.initialize(config, 11);
        int n = 1_555;
        int[] tokens = new SplittableRandom(11).ints(n, 0, 50_000).toArray();
        LongNetModel.Output want;
        float[] wantLp;
        try (CpuAttentionKernel cpu = new CpuAttentionKernel()) {
            want = model.forward(tokens, cpu, true);
            wantLp = model.nextTokenLogProbs(tokens, cpu);
        }
        double bound = p == Precision.FP32 ? 1e-4 : 2e-2;
        int[] cuts = {0, 600, 1_200, n};
        try (DeviceDecoder gpu = new DeviceDecoder(model, 0, p)) {
            for (int i = 0; i + 1 < cuts.length; i++) {
                int from = cuts[i];
                int to = cuts[i + 1];
                int[] run = Arrays.copyOfRange(tokens, from, to);
                SequenceWindow where = new SequenceWindow(from, n, to < n ? tokens[to] : -1);
                double eh = Tensors.relativeError(gpu.hiddenStates(run, where, 1),
                        Arrays.copyOfRange(want.hiddenStates().get(1), from * 128, to * 128));
                double ef = Tensors.relativeError(gpu.hiddenStates(run, where, -1),
                        Arrays.copyOfRange(want.features(), from * 128, to * 128));
                float[] lp = gpu.nextTokenLogProbs(run, where);
                assertEquals(where.scored(run.length), lp.length);
                double el = Tensors.relativeError(lp, Arrays.copyOfRange(wantLp, from, from + lp.length));
                System.out.printf("run [%d, %d) causal=%s %s: h1 %.2e features %.2e log-probs %.2e%n", from, to, causal,
                        p, eh, ef, el);
                assertTrue(eh < bound && ef < bound && el < bound, "run [" + from + ", " + to + ") " + p + ": " + eh
                        + " " + ef + " " + el);
            }
            IllegalArgumentException cut = assertThrows(IllegalArgumentException.class,
                    () -> gpu.nextTokenLogProbs(Arrays.copyOfRange(tokens, 150, 750), new SequenceWindow(150, n, 1)));
            assertTrue(cut.getMessage().contains("multiples of 300"), cut.getMessage());
        }
    }

    /** Tasks opening the same weights on one device share one upload; the last one to close frees it. */
    @Test
    void tasksShareOneUploadPerModel() {
        LongNetModel model = LongNetModel.initialize(LongNetConfig.of(300, 64, 1, 1, 128, "32:1,64:2"), 3);
        GpuModelDecoderProvider provider = new GpuModelDecoderProvider();
        DeviceMemoryBudget budget = CudaDevices.pool().device(0).memory();
        long before = budget.held();
        int[] tokens = new SplittableRandom(3).ints(200, 0, 300).toArray();
        try (ModelDecoder a = provider.open(model, 0)) {
            long one = budget.held() - before;
            assertTrue(one > 0, "the weights are reserved");
            try (ModelDecoder b = provider.open(model, 0)) {
                assertEquals(one, budget.held() - before, "a second task reuses the upload");
                assertArrayEquals(a.nextTokenLogProbs(tokens), b.nextTokenLogProbs(tokens));
            }
            assertEquals(199, a.nextTokenLogProbs(tokens).length, "the first task still holds it");
        }
        assertEquals(before, budget.held(), "the last close frees the weights and their reservation");
    }
}
