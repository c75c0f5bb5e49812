package io.longnet.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The hidden temporary folders that killed runs leave beside an output ({@code .OUT.longnet-<kind>-<uuid>}):
 * a command starting on OUT names them in a warning and keeps them; {@code --overwrite} removes those of OUT
 * and no others; {@code longnet clean OUT} removes them. Through init-model, which starts no Spark: the checks
 * are the CLI's, the same for every command with {@code --out}.
 */
class StaleTemporaryFoldersTest {

    static final Path TINY = Path.of("../datasets/data/models/tiny-config.json").toAbsolutePath().normalize();

    @TempDir
    Path dir;

    /** A temporary folder of a dead run of {@code name}, with a file in it. */
    Path leftover(String name, String kind) throws IOException {
        Path p = Files.createDirectory(dir.resolve("." + name + ".longnet-" + kind + "-" + UUID.randomUUID()));
        Files.writeString(p.resolve("part-00000"), "half written");
        return p;
    }

    record Run(int code, String out, List<String> err) {
    }

    static Run run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream stdout = System.out;
        try {
            // clean and init-model report on System.out, as every command does.
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            int code = Main.execute(args, System.out, new PrintStream(err, true, StandardCharsets.UTF_8));
            return new Run(code, out.toString(StandardCharsets.UTF_8),
                    err.toString(StandardCharsets.UTF_8).lines().toList());
        } finally {
            System.setOut(stdout);
        }
    }

    @Test
    void aJobStartingBesideLeftoversNamesThemAndKeepsThem() throws IOException {
        Path tmp = leftover("model", "tmp");
        Path checkpoints = leftover("model", "checkpoints");
        Run r = run("init-model", "--config", TINY.toString(), "--out", dir.resolve("model").toString());
        assertEquals(0, r.code(), r.err()::toString);
        assertEquals(1, r.err().size(), r.err()::toString);
        String warning = r.err().get(0);
        assertTrue(warning.startsWith("longnet init-model: warning: 2 temporary folder(s) beside "), warning);
        assertTrue(warning.contains(tmp.getFileName().toString()) && warning.contains(checkpoints.getFileName().toString()),
                warning);
        assertTrue(warning.endsWith("remove them with: longnet clean " + dir.resolve("model")), warning);
        assertTrue(Files.exists(tmp) && Files.exists(checkpoints), "a warning removes nothing");
        assertTrue(Files.exists(dir.resolve("model/model.safetensors")));
    }

    @Test
    void overwriteRemovesTheLeftoversOfItsOutputOnly() throws IOException {
        assertEquals(0, run("init-model", "--config", TINY.toString(), "--out", dir.resolve("model").toString()).code());
        Path mine = leftover("model", "tmp");
        Path other = leftover("model-2", "tmp");
        Path notOurs = Files.createDirectory(dir.resolve(".model.longnet-notes"));
        Run r = run("init-model", "--config", TINY.toString(), "--out", dir.resolve("model").toString(), "--overwrite");
        assertEquals(0, r.code(), r.err()::toString);
        assertEquals(List.of("longnet init-model: removed 1 temporary folder(s) of earlier runs beside "
                + dir.resolve("model") + ": [" + mine.getFileName() + "]"), r.err());
        assertFalse(Files.exists(mine));
        assertTrue(Files.exists(other), "another output's leftovers stay");
        assertTrue(Files.exists(notOurs), "a name not of the pattern stays");
    }

    @Test
    void cleanRemovesThemAndSaysWhat() throws IOException {
        Path tmp = leftover("scores", "tmp");
        Path old = leftover("scores", "old");
        Path other = leftover("tokens", "tmp");
        Run r = run("clean", dir.resolve("scores").toString());
        assertEquals(0, r.code(), r.err()::toString);
        assertEquals(List.of(), r.err());
        assertTrue(r.out().startsWith("removed 2 temporary folder(s) beside " + dir.resolve("scores")), r.out());
        assertFalse(Files.exists(tmp) || Files.exists(old));
        assertTrue(Files.exists(other));
        Run again = run("clean", dir.resolve("scores").toString());
        assertEquals(0, again.code());
        assertEquals("nothing to clean beside " + dir.resolve("scores") + "\n", again.out());
    }
}
