package io.longnet.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.model.LongNetConfig;
import io.longnet.model.ModelFormatException;
import io.longnet.model.TestWeights;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainingCheckpointTest {

    private static final LongNetConfig CONFIG = TrainableModelTest.tiny(true);
    private static final AdamW.Settings SETTINGS = AdamW.Settings.defaults(100);

    @TempDir
    Path dir;

    /** Parameters and an optimiser with non-trivial moments (two steps on random gradients). */
    private static AdamW optimizer(double[] params, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        AdamW adam = new AdamW(SETTINGS, ParameterLayout.of(CONFIG));
        for (int s = 0; s < 2; s++) {
            double[] grad = new double[params.length];
            for (int i = 0; i < grad.length; i++) {
                grad[i] = rnd.nextGaussian();
            }
            adam.step(params, grad, 0.1);
        }
        return adam;
    }

    private static double[] params(long seed) {
        return ParameterLayout.of(CONFIG).flatten(TestWeights.random(CONFIG, seed));
    }

    private List<String> entries() throws IOException {
        List<String> names = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            s.forEach(p -> names.add(p.getFileName().toString()));
        }
        names.sort(null);
        return names;
    }

    @Test
    void writeThenLatestRestoresEverythingBitForBit() throws IOException {
        long seed = 11;
        System.out.println("checkpoint round trip, seed " + seed);
        double[] params = params(seed);
        AdamW adam = optimizer(params, seed);
        String state = "{\"sequence\": 17, \"position\": 4096, \"seed\": 11}";
        TrainingCheckpoint.write(dir, 7, CONFIG, params, adam, state);

        assertEquals(List.of("step-000000007"), entries(), "one folder, no temporary left");
        Path folder = dir.resolve("step-000000007");
        for (String f : List.of("config.json", "params.safetensors", "optimizer.safetensors", "state.json")) {
            assertTrue(Files.isRegularFile(folder.resolve(f)), f);
        }
        TrainingCheckpoint c = TrainingCheckpoint.latest(dir).orElseThrow();
        assertEquals(7, c.step());
        assertEquals(folder, c.directory());
        assertEquals(CONFIG, c.config());
        assertArrayEquals(params, c.params(), "parameters bit for bit");
        assertEquals(state, c.stateJson());
        AdamW back = c.optimizer(SETTINGS);
        assertEquals(2, back.steps());
        assertArrayEquals(adam.firstMoment(), back.firstMoment());
        assertArrayEquals(adam.secondMoment(), back.secondMoment());
        assertTrue(io.longnet.tensors.SafetensorsFile.headerText(folder.resolve("optimizer.safetensors"))
                .startsWith("{\"__metadata__\":{\"steps\":\"2\"},\"m.embed_tokens.weight\":{\"dtype\":\"F64\""));
        // The parameters file is a state dict under the model's tensor names.
        assertTrue(io.longnet.tensors.SafetensorsFile.headerText(folder.resolve("params.safetensors"))
                .contains("\"layers.1.ffn.fc2.weight\":{\"dtype\":\"F64\",\"shape\":[8,16]"));
    }

    @Test
    void keepsTheNewestTwoAndRefusesToGoBack() throws IOException {
        double[] params = params(21);
        AdamW adam = optimizer(params, 21);
        assertEquals(Optional.empty(), TrainingCheckpoint.latest(dir.resolve("nothing-here")));
        assertEquals(Optional.empty(), TrainingCheckpoint.latest(dir));
        for (long step : new long[] {10, 20, 30}) {
            TrainingCheckpoint.write(dir, step, CONFIG, params, adam, "{\"at\": " + step + "}");
        }
        assertEquals(List.of("step-000000020", "step-000000030"), entries());
        assertEquals(30, TrainingCheckpoint.latest(dir).orElseThrow().step());

        IllegalArgumentException older = assertThrows(IllegalArgumentException.class,
                () -> TrainingCheckpoint.write(dir, 25, CONFIG, params, adam, "{}"));
        assertTrue(older.getMessage().contains("already holds step 30, newer than 25"), older.getMessage());

        // The same step again replaces it.
        TrainingCheckpoint.write(dir, 30, CONFIG, params, adam, "{\"again\": true}");
        assertEquals("{\"again\": true}", TrainingCheckpoint.latest(dir).orElseThrow().stateJson());
        assertEquals(List.of("step-000000020", "step-000000030"), entries());

        // What a crashed write leaves (a hidden folder) and an incomplete folder are not checkpoints.
        Path crashed = Files.createDirectories(dir.resolve(".step-000000040.tmp-123"));
        Files.writeString(crashed.resolve("config.json"), "{");
        assertEquals(30, TrainingCheckpoint.latest(dir).orElseThrow().step());
        TrainingCheckpoint.write(dir, 40, CONFIG, params, adam, "{}");
        assertFalse(Files.exists(crashed), "the next write removes a crashed write's leftovers");
        assertEquals(List.of("step-000000030", "step-000000040"), entries());
        Path incomplete = Files.createDirectories(dir.resolve("step-000000050"));
        Files.writeString(incomplete.resolve("state.json"), "{}");
        assertEquals(40, TrainingCheckpoint.latest(dir).orElseThrow().step());

        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> TrainingCheckpoint.write(dir.resolve("x"), 1, CONFIG, params, adam, "{not json"))
                .getMessage().startsWith("checkpoint state is not valid JSON"));
        assertThrows(IllegalArgumentException.class,
                () -> TrainingCheckpoint.write(dir.resolve("x"), 1, CONFIG.withSubLn(false), params, adam, "{}"));
        assertFalse(Files.exists(dir.resolve("x").resolve("step-000000001")));
    }

    /** A truncated or corrupt file fails with a message that names it. */
    @Test
    void corruptFilesAreNamed() throws IOException {
        double[] params = params(31);
        AdamW adam = optimizer(params, 31);
        for (String file : List.of("params.safetensors", "optimizer.safetensors")) {
            Path d = dir.resolve(file + "-cut");
            TrainingCheckpoint.write(d, 5, CONFIG, params, adam, "{}");
            Path f = d.resolve("step-000000005").resolve(file);
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
                ch.truncate(Files.size(f) - 100);
            }
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> TrainingCheckpoint.latest(d));
            assertTrue(e.getMessage().startsWith("training checkpoint " + f + ": truncated: "), e.getMessage());
            assertTrue(e.getMessage().contains("is the first one cut off"), e.getMessage());
        }

        Path d = dir.resolve("state");
        TrainingCheckpoint.write(d, 5, CONFIG, params, adam, "{}");
        Path state = d.resolve("step-000000005").resolve("state.json");
        Files.writeString(state, "{\"a\": ");
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> TrainingCheckpoint.latest(d));
        assertTrue(e.getMessage().startsWith("training checkpoint " + state + ": not valid JSON"), e.getMessage());

        Path config = d.resolve("step-000000005").resolve("config.json");
        Files.writeString(state, "{}");
        Files.writeString(config, CONFIG.withSubLn(false).toJson());
        e = assertThrows(ModelFormatException.class, () -> TrainingCheckpoint.latest(d));
        assertTrue(e.getMessage().startsWith("training checkpoint " + d.resolve("step-000000005").resolve("params.safetensors")
                + ": unexpected tensor 'layers.0.self_attn.inner_attn_ln.weight'"), e.getMessage());

        Files.writeString(config, "{\"vocab_size\": 11");
        e = assertThrows(ModelFormatException.class, () -> TrainingCheckpoint.latest(d));
        assertTrue(e.getMessage().startsWith("model config " + config + ": not valid JSON"), e.getMessage());
    }
}
