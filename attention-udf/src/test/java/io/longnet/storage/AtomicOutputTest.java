package io.longnet.storage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Output appears complete or not at all, and nothing hidden is left beside it. */
class AtomicOutputTest {

    @TempDir
    Path dir;

    private List<String> entries() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void localFileIsReplacedOnlyWhenComplete() throws IOException {
        Path f = dir.resolve("a.json");
        AtomicOutput.writeFile(f, "one".getBytes(StandardCharsets.UTF_8));
        AtomicOutput.writeFile(f, "two".getBytes(StandardCharsets.UTF_8));
        assertEquals("two", Files.readString(f));
        IOException failed = assertThrows(IOException.class, () -> AtomicOutput.writeFile(f, tmp -> {
            Files.writeString(tmp, "half");
            throw new IOException("disk full");
        }));
        assertEquals("disk full", failed.getMessage());
        assertEquals("two", Files.readString(f), "the old file stays");
        assertEquals(List.of("a.json"), entries(), "no temporary left");
    }

    @Test
    void directoryIsReplacedWholeAndDeletedWhole() throws IOException {
        Path d = dir.resolve("step-1");
        AtomicOutput.replaceDirectory(d, tmp -> Files.writeString(tmp.resolve("x"), "1"));
        AtomicOutput.replaceDirectory(d, tmp -> Files.writeString(tmp.resolve("y"), "2"));
        assertEquals(List.of("y"), Files.list(d).map(p -> p.getFileName().toString()).toList());
        assertThrows(IllegalStateException.class, () -> AtomicOutput.replaceDirectory(d, tmp -> {
            Files.writeString(tmp.resolve("z"), "3");
            throw new IllegalStateException("failed");
        }));
        assertEquals("2", Files.readString(d.resolve("y")));
        assertEquals(List.of("step-1"), entries());
        Files.createDirectories(d.resolve("sub/deeper"));
        AtomicOutput.delete(d);
        AtomicOutput.delete(d); // absent: nothing to do
        assertEquals(List.of(), entries());
    }

    @Test
    void hadoopOutputCommitsOrLeavesNothing() throws IOException {
        Configuration conf = new Configuration();
        String out = dir.resolve("out").toUri().toString();
        try (AtomicOutput o = AtomicOutput.begin(out, conf, false)) {
            assertTrue(o.temporary().getName().startsWith(".out.longnet-tmp-"), o.temporary().toString());
            try (OutputStream s = o.fileSystem().create(o.temporary(), false)) {
                s.write(new byte[] {1, 2, 3});
            }
            o.commit();
        }
        assertArrayEquals(new byte[] {1, 2, 3}, Files.readAllBytes(dir.resolve("out")));
        assertEquals(List.of("out"), entries(), "no .crc file and no temporary");

        try (AtomicOutput o = AtomicOutput.begin(out, conf, false)) {
            o.fileSystem().mkdirs(o.temporary());
            // failure before commit: close removes the temporary, the old output stays
        }
        assertEquals(List.of("out"), entries());

        IllegalArgumentException exists = assertThrows(IllegalArgumentException.class,
                () -> AtomicOutput.requireAbsent(out, conf, false));
        assertEquals("output " + out + " exists: remove it, choose another path or pass --overwrite",
                exists.getMessage());
        AtomicOutput.requireAbsent(out, conf, true);
        assertThrows(IllegalArgumentException.class, () -> AtomicOutput.requireAbsent(dir.resolve("out"), false));
    }

    /**
     * Two jobs on one output: the one that commits second finds the first's result. Without overwrite it
     * keeps it, fails saying so and leaves no temporary; with overwrite it replaces it.
     */
    @Test
    void aTargetThatAppearsWhileAJobRunsIsKeptUnlessOverwriting() throws IOException {
        Configuration conf = new Configuration();
        String out = dir.resolve("race").toUri().toString();
        for (boolean overwrite : new boolean[] {false, true}) {
            try (AtomicOutput o = AtomicOutput.begin(out, conf, overwrite)) {
                Files.createDirectories(dir.resolve("race"));
                Files.writeString(dir.resolve("race/theirs"), "first job");
                o.fileSystem().mkdirs(o.temporary());
                Files.writeString(Path.of(o.temporary().toUri()).resolve("ours"), "second job");
                if (overwrite) {
                    o.commit();
                } else {
                    org.apache.hadoop.fs.FileAlreadyExistsException e = assertThrows(
                            org.apache.hadoop.fs.FileAlreadyExistsException.class, o::commit);
                    assertTrue(e.getMessage().contains("appeared while this job ran"), e.getMessage());
                }
            }
            if (overwrite) {
                assertEquals(List.of("ours"), list(dir.resolve("race")));
            } else {
                assertEquals(List.of("theirs"), list(dir.resolve("race")), "the first job's output is untouched");
                AtomicOutput.deleteRecursively(dir.resolve("race"));
            }
            assertTrue(entries().stream().noneMatch(n -> n.startsWith(".race")), "no temporary left: " + entries());
        }
    }

    private static List<String> list(Path folder) throws IOException {
        try (var s = Files.list(folder)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
