package io.longnet.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bin/longnet}'s {@code --driver-memory}: it becomes the JVM's -Xmx (after LONGNET_JAVA_OPTS, so it
 * wins) and is taken out of the CLI's arguments; a size that is none ends in one line and exit code 2. The
 * script runs on a copy of the repository's layout with a stand-in {@code java} that prints its arguments.
 */
class LauncherScriptTest {

    @TempDir
    Path dir;

    @BeforeEach
    void layout() throws IOException {
        Files.createDirectories(dir.resolve("bin"));
        Files.copy(Path.of("../bin/longnet"), dir.resolve("bin/longnet"), StandardCopyOption.COPY_ATTRIBUTES);
        Path target = Files.createDirectories(dir.resolve("spark-jobs/target"));
        Files.writeString(target.resolve("spark-jobs-0.1.0-SNAPSHOT-shaded.jar"), "");
        Files.writeString(target.resolve("spark-classpath.txt"), "deps.jar");
        Path java = Files.createDirectories(dir.resolve("jdk/bin")).resolve("java");
        // The JVM's announcement of the incubating module, as a real JVM prints it, and a line that must pass.
        Files.writeString(java, "#!/usr/bin/env bash\nprintf '%s\\n' \"$@\"\n"
                + "echo 'WARNING: Using incubator modules: jdk.incubator.vector' >&2\necho 'kept' >&2\n");
        Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    record Run(int code, List<String> out, String err) {
        /** The arguments the CLI's main gets. */
        List<String> mainArgs() {
            return out.subList(out.indexOf("io.longnet.jobs.Main") + 1, out.size());
        }

        /** The -Xmx flags the JVM gets, in order. */
        List<String> heap() {
            return out.stream().filter(a -> a.startsWith("-Xmx")).toList();
        }
    }

    Run run(Map<String, String> env, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("bash", dir.resolve("bin/longnet").toString()));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().remove("LONGNET_JAVA_OPTS");
        pb.environment().put("JAVA_HOME", dir.resolve("jdk").toString());
        pb.environment().putAll(env);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        return new Run(p.waitFor(), out.lines().toList(), err);
    }

    @Test
    void driverMemorySetsTheHeapAndIsNotPassedOn() throws Exception {
        Run r = run(Map.of(), "score", "--driver-memory", "3g", "--tokens", "t");
        assertEquals(0, r.code(), r.err());
        assertEquals(List.of("-Xmx4g", "-Xmx3g"), r.heap());
        assertEquals(List.of("score", "--tokens", "t"), r.mainArgs());
        Run equals = run(Map.of("LONGNET_JAVA_OPTS", "-Xmx1g"), "--driver-memory=512m", "attend");
        assertEquals(List.of("-Xmx1g", "-Xmx512m"), equals.heap());
        assertEquals(List.of("attend"), equals.mainArgs());
        Run without = run(Map.of());
        assertEquals(List.of("-Xmx4g"), without.heap());
        assertEquals(List.of(), without.mainArgs());
    }

    @Test
    void theVectorApiIsResolvedAndItsAnnouncementDropped() throws Exception {
        Run r = run(Map.of(), "score");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("--add-modules=jdk.incubator.vector"), r.out().toString());
        assertEquals("kept\n", r.err());
    }

    @Test
    void aSizeThatIsNoneEndsInOneLine() throws Exception {
        for (String[] args : List.of(new String[] {"--driver-memory", "lots", "score"}, new String[] {"--driver-memory"})) {
            Run r = run(Map.of(), args);
            assertEquals(2, r.code());
            assertEquals(1, r.err().lines().count(), r.err());
            assertTrue(r.err().startsWith("longnet: --driver-memory '"), r.err());
            assertTrue(r.err().contains("expected a size such as 4g or 512m"), r.err());
            assertEquals(List.of(), r.out());
        }
    }
}
