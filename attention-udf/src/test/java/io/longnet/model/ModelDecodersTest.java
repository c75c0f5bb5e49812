package io.longnet.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.attention.Backend;
import io.longnet.attention.CpuAttentionKernel;
import io.longnet.attention.Tensors;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The backend choice for whole-model decoding; this module has no GPU provider on its classpath. */
class ModelDecodersTest {

    private final LongNetModel model = LongNetModel.initialize(LongNetConfig.of(300, 16, 2, 2, 32, "8:1,16:2"), 3);
    private final int[] tokens = new SplittableRandom(3).ints(40, 0, 300).toArray();

    @Test
    void cpuIsTheModelWithTheCpuEngine() {
        try (ModelDecoder cpu = ModelDecoders.open(Backend.CPU, model, 1, -1);
             CpuAttentionKernel kernel = new CpuAttentionKernel(1)) {
            LongNetModel.Output want = model.forward(tokens, kernel, true);
            assertArrayEquals(model.nextTokenLogProbs(tokens, kernel), cpu.nextTokenLogProbs(tokens));
            assertArrayEquals(want.features(), cpu.forward(tokens, false).features());
            assertArrayEquals(want.hiddenStates().get(1), cpu.hiddenStates(tokens, 1));
            assertThrows(IllegalArgumentException.class, () -> cpu.hiddenStates(tokens, 3));
        }
    }

    @Test
    void autoFallsBackToTheCpuAndGpuSaysWhyItCannot() {
        try (ModelDecoder auto = ModelDecoders.open(Backend.AUTO, model, 1, 0)) {
            assertEquals(39, auto.nextTokenLogProbs(tokens).length);
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ModelDecoders.open(Backend.GPU, model, 1, 0));
        assertTrue(e.getMessage().startsWith("backend gpu: "), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ModelDecoders.open(Backend.parse("tpu"), model, 1, 0));
    }

    /**
     * The runs of a plan whose branches are all local, each computed alone with its absolute positions and
     * the token after it, give the whole sequence's hidden states and log-probs (the float64-checked CPU
     * model over the whole sequence is the reference): ragged N, w = 30 not a multiple of r = 7, causal.
     */
    @Test
    void runsComputedAloneGiveTheWholeSequence() {
        LongNetConfig config = new LongNetConfig(500, 16, 2, 2, 32, io.longnet.attention.Branch.parseList("10:1,30:7"),
                true, true, 64, 1e-5, io.longnet.attention.HeadOffset.PAPER);
        LongNetModel m = LongNetModel.initialize(config, 8);
        int n = 151;
        int[] all = new SplittableRandom(8).ints(n, 0, 500).toArray();
        try (ModelDecoder cpu = ModelDecoders.open(Backend.CPU, m, 1, -1)) {
            LongNetModel.Output want = cpu.forward(all, true);
            float[] wantLp = cpu.nextTokenLogProbs(all);
            int[] cuts = {0, 60, 120, n};
            for (int i = 0; i + 1 < cuts.length; i++) {
                int from = cuts[i];
                int to = cuts[i + 1];
                int[] run = Arrays.copyOfRange(all, from, to);
                SequenceWindow where = new SequenceWindow(from, n, to < n ? all[to] : -1);
                assertTrue(Tensors.relativeError(cpu.hiddenStates(run, where, 2),
                        Arrays.copyOfRange(want.hiddenStates().get(2), from * 16, to * 16)) < 1e-5);
                assertTrue(Tensors.relativeError(cpu.hiddenStates(run, where, -1),
                        Arrays.copyOfRange(want.features(), from * 16, to * 16)) < 1e-5);
                float[] lp = cpu.nextTokenLogProbs(run, where);
                assertEquals(to < n ? run.length : run.length - 1, lp.length);
                assertTrue(Tensors.relativeError(lp, Arrays.copyOfRange(wantLp, from, from + lp.length)) < 1e-5);
            }
            IllegalArgumentException cut = assertThrows(IllegalArgumentException.class,
                    () -> cpu.hiddenStates(Arrays.copyOfRange(all, 15, 75), new SequenceWindow(15, n, 2), 1));
            assertTrue(cut.getMessage().contains("multiples of 30"), cut.getMessage());
            assertThrows(IllegalArgumentException.class,
                    () -> cpu.nextTokenLogProbs(Arrays.copyOfRange(all, 120, n), new SequenceWindow(120, n, 4)),
                    "a run that ends the sequence has no next token");
        }
    }
}
