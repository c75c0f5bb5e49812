package io.longnet.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.datasets.SyntheticQkv;
import io.longnet.tensors.DType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two runs of {@code attend} on one {@code --out}, started together, each in a JVM of its own (both exited 0
 * before, the file holding the second's result): exactly one succeeds; the other fails at once, before
 * Spark starts, in one line naming the running one, with exit code 2, and leaves nothing behind.
 */
class ConcurrentWritersTest {

    @TempDir
    Path dir;

    @Test
    void twoWritersOfOneOutputGiveExactlyOneSuccess() throws Exception {
        String qkv = dir.resolve("qkv.safetensors").toString();
        SyntheticQkv.write(dir.resolve("qkv.safetensors").toUri().toString(), new Configuration(), 1024, 2, 8,
                DType.F32, 5);
        Path work = Files.createDirectories(dir.resolve("work"));
        String out = work.resolve("o.safetensors").toString();
        String[] attend = {"attend", "--master", "local[1]", "--qkv", qkv, "--out", out, "--branches", "256:1,512:2"};
        ChildCli a = ChildCli.start(dir.resolve("logs"), "a", List.of(), attend);
        ChildCli b = ChildCli.start(dir.resolve("logs"), "b", List.of(), attend);
        // The loser ends first: it is refused by the winner's claim, before its own Spark starts.
        Process ended = (Process) java.util.concurrent.CompletableFuture.anyOf(a.process.onExit(), b.process.onExit())
                .get(120, java.util.concurrent.TimeUnit.SECONDS);
        ChildCli loser = ended == a.process ? a : b;
        ChildCli winner = loser == a ? b : a;
        assertTrue(winner.process.isAlive(), "the refused run ended while the other still ran");
        assertEquals(2, loser.waitFor(), () -> "exit code of the refused run: " + loser.errText());
        assertEquals(0, winner.waitFor(), () -> "exit code of the run that got the output: " + winner.errText());
        List<String> err = loser.err();
        assertEquals(1, err.size(), err::toString);
        assertTrue(err.get(0).startsWith("longnet attend: output " + out + " is being written by another run"
                + " (process " + winner.process.pid() + " on "), err.get(0));
        assertTrue(err.get(0).endsWith("wait for it to finish or choose another path"), err.get(0));
        assertEquals("", loser.out(), "the refused run started nothing");
        assertTrue(Files.isRegularFile(Path.of(out)), "the winner's output");
        try (Stream<Path> s = Files.list(work)) {
            assertEquals(List.of("o.safetensors"), s.map(p -> p.getFileName().toString()).toList(),
                    "the output alone: no claim, no temporary");
        }
    }
}
