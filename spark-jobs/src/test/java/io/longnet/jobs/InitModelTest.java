package io.longnet.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.model.LongNetConfig;
import io.longnet.model.LongNetModel;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InitModelTest {

    @TempDir
    Path dir;

    private int run(ByteArrayOutputStream err, String... args) {
        return Main.execute(args, new PrintStream(new ByteArrayOutputStream()), new PrintStream(err));
    }

    @Test
    void writesTheSeededModelThatLoadsBack() throws Exception {
        Path config = dir.resolve("config.json");
        Files.writeString(config, "{\"vocab_size\": 40, \"d_model\": 16, \"heads\": 2, \"layers\": 2, \"ffn_dim\": 32,"
                + " \"branches\": \"8:1,16:2\"}");
        Path out = dir.resolve("model");
        assertEquals(0, run(new ByteArrayOutputStream(), "init-model", "--config", config.toString(), "--out",
                out.toString(), "--seed", "5"));
        LongNetModel loaded = LongNetModel.load(out);
        LongNetModel expected = LongNetModel.initialize(LongNetConfig.read(config), 5);
        assertTrue(loaded.weights().sameAs(expected.weights()), "the saved weights are the seed's");
        assertEquals(expected.config(), loaded.config());
    }

    @Test
    void badInputEndsInOneLine() throws Exception {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(2, run(err, "init-model", "--config", dir.resolve("missing.json").toString(), "--out",
                dir.resolve("m").toString()));
        assertEquals("longnet init-model: --config " + dir.resolve("missing.json") + ": no such file or directory\n",
                err.toString(StandardCharsets.UTF_8));
        Path config = dir.resolve("bad.json");
        Files.writeString(config, "{\"vocab_size\": 40, \"d_model\": 15, \"heads\": 2, \"layers\": 1, \"ffn_dim\": 8,"
                + " \"branches\": \"8:1\"}");
        err.reset();
        assertEquals(2, run(err, "init-model", "--config", config.toString(), "--out", dir.resolve("m").toString()));
        String line = err.toString(StandardCharsets.UTF_8);
        assertEquals(1, line.lines().count(), line);
        assertTrue(line.startsWith("longnet init-model: ") && line.contains("d_model"), line);
        assertTrue(Files.notExists(dir.resolve("m")), "nothing written");
    }
}
