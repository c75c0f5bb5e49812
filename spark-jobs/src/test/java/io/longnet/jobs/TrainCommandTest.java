package io.longnet.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code longnet train} on the command line: bad input ends in one line, exit code 2, nothing written. */
class TrainCommandTest {

    @TempDir
    Path dir;

    private int run(ByteArrayOutputStream err, String... args) {
        return Main.execute(args, new PrintStream(new ByteArrayOutputStream()),
                new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @Test
    void conflictingStartsEndInOneLine() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Path out = dir.resolve("out");
        Path config = Path.of("../datasets/data/models/tiny-config.json").toAbsolutePath();
        int code = run(err, "train", "--master", "local[1]", "--tokens", dir.toString(), "--out",
                out.toString(), "--config", config.toString(), "--init", dir.toString());
        String message = err.toString(StandardCharsets.UTF_8).trim();
        assertEquals(2, code, message);
        assertEquals(1, message.lines().count(), message);
        assertTrue(message.startsWith("longnet train: ") && message.contains("not both"), message);
        assertFalse(Files.exists(out));
    }

    @Test
    void aMissingTokenDatasetIsNamed() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Path out = dir.resolve("out");
        Path config = Path.of("../datasets/data/models/tiny-config.json").toAbsolutePath();
        int code = run(err, "train", "--master", "local[1]", "--tokens", dir.resolve("missing").toString(), "--out",
                out.toString(), "--config", config.toString());
        String message = err.toString(StandardCharsets.UTF_8).trim();
        assertEquals(2, code, message);
        assertEquals(1, message.lines().count(), message);
        assertTrue(message.contains("missing"), message);
        assertFalse(Files.exists(out));
    }
}
