package io.longnet.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.model.LongNetConfig;
import io.longnet.model.LongNetModel;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * score and encode run the float32 model, which has dilated attention only: a model of the strided
 * baseline ends them in one line before the token dataset is read (here an empty folder).
 */
class StridedModelRefusedTest {

    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"score", "encode"})
    void stridedModelEndsTheJobInOneLine(String job) throws IOException {
        Path model = dir.resolve("model");
        Files.createDirectories(model);
        LongNetConfig.strided(258, 16, 2, 1, 32, 4).write(model.resolve(LongNetModel.CONFIG_FILE));
        Path out = dir.resolve("out");
        Files.createDirectories(dir.resolve("no-tokens"));
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.execute(new String[] {job, "--master", "local[1]", "--tokens",
                dir.resolve("no-tokens").toUri().toString(), "--model", model.toString(), "--out", out.toUri().toString(),
                "--backend", "cpu"}, new PrintStream(new ByteArrayOutputStream()),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        String stderr = err.toString(StandardCharsets.UTF_8);
        assertEquals(2, code, () -> "exit code; stderr: " + stderr);
        assertEquals(List.of("longnet " + job + ": model " + model + " uses the strided sparse baseline (attention:"
                + " strided), which only `longnet train` evaluates; score and encode need a dilated model"),
                stderr.lines().toList());
        assertTrue(Files.notExists(out), "nothing written");
    }
}
