package io.longnet.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.datasets.SyntheticQkv;
import io.longnet.tensors.DType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The driver killed in the middle of {@code attend} (its JVM ended as {@code kill -9} would, by
 * {@link ExecutorKillPlugin} once a task has written its rows: on {@code local[2]} the tasks run in the
 * driver's JVM): nothing appears at {@code --out}; what is left beside it (the hidden temporary output, the
 * claim) is named by the next run on OUT, which refuses to start, and removed by {@code longnet clean OUT}.
 */
class DriverKilledTest {

    @TempDir
    Path dir;

    @ParameterizedTest(name = "attend --out {0}")
    @ValueSource(strings = {"o.safetensors", "o-parquet"})
    void aKilledDriverLeavesNothingAtTheOutput(String name) throws Exception {
        String qkv = dir.resolve("qkv.safetensors").toString();
        SyntheticQkv.write(dir.resolve("qkv.safetensors").toUri().toString(), new Configuration(), 4096, 2, 8,
                DType.F32, 11);
        Path control = Files.createDirectories(dir.resolve("control"));
        Files.writeString(control.resolve("plan"), "success 3");
        Path work = Files.createDirectories(dir.resolve("work"));
        String out = work.resolve(name).toString();
        String[] attend = {"attend", "--master", "local[2]", "--qkv", qkv, "--out", out, "--branches", "256:1,512:2",
                "--partition-length", "512"};
        ChildCli child = ChildCli.start(dir.resolve("logs"), "attend", List.of(
                "-Dspark.plugins=" + ExecutorKillPlugin.class.getName(),
                "-D" + ExecutorKillPlugin.CONTROL + "=" + control), attend);
        assertEquals(137, child.waitFor(), () -> "the driver was not killed: " + child.errText());
        assertTrue(Files.readString(control.resolve("killed")).contains("at its success"));

        assertFalse(Files.exists(Path.of(out)), "nothing at --out");
        List<String> left = listing(work);
        assertTrue(left.contains("." + name + ".longnet-claim"), left::toString);
        assertTrue(left.stream().anyMatch(n -> n.startsWith("." + name + ".longnet-tmp-")), left::toString);

        StaleTemporaryFoldersTest.Run refused = StaleTemporaryFoldersTest.run(attend);
        assertEquals(2, refused.code(), refused.err()::toString);
        assertEquals(1, refused.err().size(), refused.err()::toString);
        assertTrue(refused.err().get(0).startsWith("longnet attend: output " + out + " is claimed by a run that did"
                + " not finish (process " + child.process.pid() + " on "), refused.err().get(0));
        assertTrue(refused.err().get(0).endsWith("remove the claim with: longnet clean " + out + ", or pass --overwrite"),
                refused.err().get(0));

        StaleTemporaryFoldersTest.Run clean = StaleTemporaryFoldersTest.run("clean", out);
        assertEquals(0, clean.code(), clean.err()::toString);
        assertTrue(clean.out().startsWith("removed 2 temporary folder(s) beside " + out + ": ["), clean.out());
        assertEquals(List.of(), listing(work), "clean removed everything of the killed run");
    }


    private static List<String> listing(Path folder) throws java.io.IOException {
        try (Stream<Path> s = Files.list(folder)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
