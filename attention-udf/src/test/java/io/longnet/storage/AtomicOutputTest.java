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
     * Two jobs on one output: the one that commits second finds the first's result and keeps it, failing
     * saying so and leaving no temporary, with or without overwrite: overwrite replaces only the target that
     * existed when the job began.
     */
    @Test
    void aTargetThatAppearsWhileAJobRunsIsKeptEvenWhenOverwriting() throws IOException {
        Configuration conf = new Configuration();
        String out = dir.resolve("race").toUri().toString();
        for (boolean overwrite : new boolean[] {false, true}) {
            try (AtomicOutput o = AtomicOutput.begin(out, conf, overwrite)) {
                Files.createDirectories(dir.resolve("race"));
                Files.writeString(dir.resolve("race/theirs"), "first job");
                o.fileSystem().mkdirs(o.temporary());
                Files.writeString(Path.of(o.temporary().toUri()).resolve("ours"), "second job");
                org.apache.hadoop.fs.FileAlreadyExistsException e = assertThrows(
                        org.apache.hadoop.fs.FileAlreadyExistsException.class, o::commit);
                assertTrue(e.getMessage().contains("appeared or changed while this job ran"), e.getMessage());
            }
            assertEquals(List.of("theirs"), list(dir.resolve("race")), "the first job's output is untouched");
            AtomicOutput.deleteRecursively(dir.resolve("race"));
            assertTrue(entries().stream().noneMatch(n -> n.startsWith(".race")), "no temporary left: " + entries());
        }
    }

    /** Overwrite replaces what existed when the job began, and refuses it when it was replaced meanwhile. */
    @Test
    void overwriteReplacesOnlyTheTargetThatExistedAtTheStart() throws IOException {
        Configuration conf = new Configuration();
        Path race = dir.resolve("race");
        Files.writeString(race, "before");
        String out = race.toUri().toString();
        try (AtomicOutput o = AtomicOutput.begin(out, conf, true)) {
            Files.writeString(Path.of(o.temporary().toUri()), "ours");
            o.commit();
        }
        assertEquals("ours", Files.readString(race));
        try (AtomicOutput o = AtomicOutput.begin(out, conf, true)) {
            Files.writeString(Path.of(o.temporary().toUri()), "mine");
            Files.writeString(race, "someone else's");
            Files.setLastModifiedTime(race, java.nio.file.attribute.FileTime.fromMillis(
                    Files.getLastModifiedTime(race).toMillis() + 5_000)); // a change the clock's grain could hide
            assertThrows(org.apache.hadoop.fs.FileAlreadyExistsException.class, o::commit);
        }
        assertEquals("someone else's", Files.readString(race));
        assertEquals(List.of("race"), entries());
    }

    /**
     * The claim: one holder at a time; a second claim fails at once naming the running holder, even with
     * overwrite; given up, the output can be claimed again, and nothing is left beside it.
     */
    @Test
    void anOutputIsClaimedByOneRunAtATime() throws IOException {
        Configuration conf = new Configuration();
        String out = dir.resolve("sub/deeper/out").toString();
        try (AtomicOutput.Claim claim = AtomicOutput.claim(out, conf, false)) {
            assertEquals(".out.longnet-claim", claim.path().getName());
            for (boolean overwrite : new boolean[] {false, true}) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> AtomicOutput.claim(out, conf, overwrite));
                assertTrue(e.getMessage().startsWith("output " + out + " is being written by another run (process "
                        + ProcessHandle.current().pid() + " on "), e.getMessage());
                assertTrue(e.getMessage().endsWith("wait for it to finish or choose another path"), e.getMessage());
            }
            assertEquals(List.of(), AtomicOutput.siblings(out, conf), "the claim is no leftover");
            IllegalArgumentException busy = assertThrows(IllegalArgumentException.class,
                    () -> AtomicOutput.clean(out, conf));
            assertTrue(busy.getMessage().contains("is being written now"), busy.getMessage());
            assertTrue(Files.exists(dir.resolve("sub/deeper/.out.longnet-claim")), "clean removed nothing");
        }
        assertEquals(List.of(), entries(), "the folders the claim made are removed with it");
        IllegalArgumentException root = assertThrows(IllegalArgumentException.class,
                () -> AtomicOutput.claim("/", conf, true));
        assertEquals("output / is the root of its file system: choose a path inside it", root.getMessage());
        try (AtomicOutput.Claim again = AtomicOutput.claim(out, conf, false)) {
            assertTrue(Files.exists(dir.resolve("sub/deeper/.out.longnet-claim")));
        }
    }

    /**
     * A claim left by a process that died: named with how to remove it; overwrite takes it over and clean
     * removes it. Two runs racing for one output: exactly one gets it.
     */
    @Test
    void aClaimOfADeadRunIsNamedAndRemovable() throws Exception {
        Configuration conf = new Configuration();
        String out = dir.resolve("scores").toString();
        Path claim = dir.resolve(".scores.longnet-claim");
        Process dead = new ProcessBuilder("true").start();
        dead.waitFor();
        String host = java.net.InetAddress.getLocalHost().getHostName();
        Files.writeString(claim, dead.pid() + " 1000 " + host + "\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> AtomicOutput.claim(out, conf, false));
        assertEquals("output " + out + " is claimed by a run that did not finish (process " + dead.pid() + " on " + host
                + ", since 1970-01-01T00:00:01Z, no longer running) (.scores.longnet-claim): if no run is writing it,"
                + " remove the claim with: longnet clean " + out + ", or pass --overwrite", e.getMessage());
        try (AtomicOutput.Claim taken = AtomicOutput.claim(out, conf, true)) {
            assertTrue(Files.readString(claim).startsWith(ProcessHandle.current().pid() + " "), "taken over");
        }
        Files.writeString(claim, "garbage");
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class,
                () -> AtomicOutput.claim(out, conf, false));
        assertEquals("output " + out + " is claimed by a run (.scores.longnet-claim, which does not say which): if no"
                + " run is writing it, remove the claim with: longnet clean " + out, unknown.getMessage());
        assertThrows(IllegalArgumentException.class, () -> AtomicOutput.claim(out, conf, true),
                "a claim being written this instant looks the same: overwrite leaves it");
        Path tmp = Files.createDirectory(dir.resolve(".scores.longnet-tmp-" + java.util.UUID.randomUUID()));
        assertEquals(List.of(tmp.getFileName().toString(), ".scores.longnet-claim"),
                AtomicOutput.clean(out, conf).stream().map(org.apache.hadoop.fs.Path::getName).toList());
        assertEquals(List.of(), entries());

        // Racing claims: exactly one wins, whatever the interleaving.
        for (int round = 0; round < 20; round++) {
            String raced = dir.resolve("raced-" + round).toString();
            java.util.concurrent.CyclicBarrier start = new java.util.concurrent.CyclicBarrier(4);
            java.util.concurrent.atomic.AtomicInteger won = new java.util.concurrent.atomic.AtomicInteger();
            List<Thread> threads = new java.util.ArrayList<>();
            for (int t = 0; t < 4; t++) {
                Thread thread = new Thread(() -> {
                    try {
                        start.await();
                        AtomicOutput.claim(raced, conf, false);
                        won.incrementAndGet();
                    } catch (IllegalArgumentException refused) {
                        // the others
                    } catch (Exception other) {
                        throw new IllegalStateException(other);
                    }
                });
                thread.start();
                threads.add(thread);
            }
            for (Thread thread : threads) {
                thread.join();
            }
            assertEquals(1, won.get(), "round " + round);
        }
    }

    private static List<String> list(Path folder) throws IOException {
        try (var s = Files.list(folder)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
