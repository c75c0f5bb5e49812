package io.longnet.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.attention.Backend;
import io.longnet.attention.CpuAttentionKernel;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The backend choice for whole-model decoding; this module has no GPU provider on its classpath. */
class ModelDecodersTest {

    private final LongNetModel model = LongNetModel.initialize(LongNetConfig.of(300, 16, 2, 2, 32, "8:1,16:2"), 3);
    private final int[] tokens = new SplittableRandom(3).ints(40, 0, 300).toArray();

    @Test
    void cpuIsTheModelWithTheCpuEngine() {
        try (ModelDecoder cpu = ModelDecoders.open(Backend.CPU, model, 1, -1, "fp32");
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
        try (ModelDecoder auto = ModelDecoders.open(Backend.AUTO, model, 1, 0, "bf16")) {
            assertEquals(39, auto.nextTokenLogProbs(tokens).length);
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ModelDecoders.open(Backend.GPU, model, 1, 0, "bf16"));
        assertTrue(e.getMessage().startsWith("backend gpu: "), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ModelDecoders.open(Backend.parse("tpu"), model, 1, 0, "bf16"));
    }
}
