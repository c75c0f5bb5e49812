package io.longnet.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.attention.TrainingAttention;
import io.longnet.model.LongNetConfig;
import io.longnet.model.LongNetModel;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The pieces together: TrainableModel, AdamW and TrainingCheckpoint in a training loop. */
class TrainingTest {

    private static final LongNetConfig CONFIG = TrainableModelTest.tiny(true);

    @TempDir
    Path dir;

    /** A period-5 sequence: learnable from context, so the loss can fall well below log(vocab) per token. */
    private static int[] repetitive(int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = (3 * i + 1) % 5 + 2;
        }
        return t;
    }

    /** One step: the mean loss's gradient (scale 1 / predicted tokens), returns the mean loss before the step. */
    private static double step(TrainableModel model, AdamW adam, int[] tokens, TrainingAttention attention) {
        double[] grad = new double[model.layout().size()];
        double loss = model.lossAndGradient(tokens, attention, grad);
        adam.step(model.params(), grad, 1.0 / (tokens.length - 1));
        return loss / (tokens.length - 1);
    }

    private static double[] initial(long seed) {
        return ParameterLayout.of(CONFIG).flatten(LongNetModel.initialize(CONFIG, seed).weights());
    }

    @Test
    void lossGoesDownOnARepetitiveSequence() {
        long seed = 5;
        System.out.println("training on a repetitive sequence, seed " + seed);
        int[] tokens = repetitive(20);
        TrainableModel model = new TrainableModel(CONFIG, initial(seed));
        TrainingAttention attention = DenseTrainingAttention.of(CONFIG);
        AdamW adam = new AdamW(new AdamW.Settings(1e-2, 0.9, 0.98, 1e-8, 0.01, 2, 20, 0.1, 1.0), model.layout());
        double first = step(model, adam, tokens, attention);
        for (int s = 1; s < 20; s++) {
            step(model, adam, tokens, attention);
        }
        double last = model.loss(tokens, attention) / (tokens.length - 1);
        System.out.println("  mean loss " + first + " -> " + last + " after 20 steps (log vocab " + Math.log(11) + ")");
        assertTrue(first > 1.5, "an untrained model: " + first);
        assertTrue(last < 0.5 * first, "mean loss " + first + " -> " + last);
    }

    /**
     * k steps, a checkpoint, a restore into a new model and optimiser, k more steps: the same parameters and
     * moments, bit for bit, as 2k steps without interruption.
     */
    @Test
    void resumingFromACheckpointEqualsAnUninterruptedRun() throws IOException {
        long seed = 6;
        System.out.println("resume from a checkpoint, seed " + seed);
        int[] tokens = repetitive(13);
        TrainingAttention attention = DenseTrainingAttention.of(CONFIG);
        AdamW.Settings settings = new AdamW.Settings(5e-3, 0.9, 0.98, 1e-8, 0.01, 2, 8, 0.1, 1.0);

        TrainableModel straight = new TrainableModel(CONFIG, initial(seed));
        AdamW straightAdam = new AdamW(settings, straight.layout());
        for (int s = 0; s < 8; s++) {
            step(straight, straightAdam, tokens, attention);
        }

        TrainableModel first = new TrainableModel(CONFIG, initial(seed));
        AdamW firstAdam = new AdamW(settings, first.layout());
        for (int s = 0; s < 4; s++) {
            step(first, firstAdam, tokens, attention);
        }
        TrainingCheckpoint.write(dir, 4, CONFIG, first.params(), firstAdam, "{\"next_step\": 4}");

        TrainingCheckpoint c = TrainingCheckpoint.latest(dir).orElseThrow();
        TrainableModel resumed = new TrainableModel(c.config(), c.params());
        AdamW resumedAdam = c.optimizer(settings);
        assertEquals(4, resumedAdam.steps());
        for (int s = 0; s < 4; s++) {
            step(resumed, resumedAdam, tokens, attention);
        }
        assertEquals(8, resumedAdam.steps());
        assertArrayEquals(straight.params(), resumed.params(), "parameters bit for bit");
        assertArrayEquals(straightAdam.firstMoment(), resumedAdam.firstMoment());
        assertArrayEquals(straightAdam.secondMoment(), resumedAdam.secondMoment());
        // And the run did move: the parameters are not the initial ones.
        assertTrue(straight.params()[3] != initial(seed)[3] || straight.params()[100] != initial(seed)[100]);
    }
}
