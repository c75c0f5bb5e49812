package io.longnet.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.spark.SparkException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

/**
 * How the CLI ends when something fails, without Spark: the usage for a missing command, one line for an
 * error inside a Spark failure (the task's cause, not Spark's trace), the memory advice for a driver out of
 * memory or below Spark's minimum heap, the master URLs it accepts and refuses.
 */
class CliFailuresTest {

    record Result(int code, List<String> err) {
    }

    /** Runs {@code args} on the CLI, with a command {@code fail} that throws what {@code failure} gives. */
    static Result run(Callable<Integer> failure, String... args) {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream errStream = new PrintStream(err, true, StandardCharsets.UTF_8);
        CommandLine cli = Main.commandLine(new PrintStream(new ByteArrayOutputStream()), errStream);
        cli.addSubcommand("fail", new FailingCommand(failure));
        int code = Main.execute(cli, args, errStream);
        return new Result(code, err.toString(StandardCharsets.UTF_8).lines().toList());
    }

    @CommandLine.Command(name = "fail")
    record FailingCommand(Callable<Integer> failure) implements Callable<Integer> {
        @Override
        public Integer call() throws Exception {
            return failure.call();
        }
    }

    /** A task's failure as the driver sees it: Spark's message with the remote trace, the task's exception as cause. */
    static SparkException sparkFailure(Throwable cause) {
        return new SparkException("Job aborted due to stage failure: Task 3 in stage 2.0 failed 1 times, most recent"
                + " failure: Lost task 3.0 in stage 2.0 (TID 7): " + cause + "\n\tat io.longnet.X.write(X.java:10)\n\tat"
                + " org.apache.spark.scheduler.Task.run(Task.scala:141)", cause);
    }

    @Test
    void noCommandPrintsTheUsageAndExitsTwo() {
        Result r = run(() -> 0);
        assertEquals(2, r.code());
        assertEquals("Usage: longnet [-hV] [COMMAND]", r.err().get(0));
        assertTrue(r.err().stream().anyMatch(l -> l.strip().startsWith("clean")), r.err()::toString);
        Result bench = run(() -> 0, "bench");
        assertEquals(2, bench.code());
        assertTrue(bench.err().get(0).startsWith("Usage: longnet bench"), bench.err()::toString);
    }

    @Test
    void aUserErrorInsideASparkFailureIsItsCausesOneLine() {
        Result exists = run(() -> {
            throw sparkFailure(new org.apache.hadoop.fs.FileAlreadyExistsException("output /x/o appeared while this job"
                    + " ran"));
        }, "fail");
        assertEquals(new Result(2, List.of("longnet fail: output /x/o appeared while this job ran")), exists);
        Result denied = run(() -> {
            throw sparkFailure(new java.nio.file.AccessDeniedException("/x/o"));
        }, "fail");
        assertEquals(new Result(2, List.of("longnet fail: /x/o")), denied);
    }

    @Test
    void anyOtherFailureIsItsRootCauseInOneLineAndTheHint() {
        Result r = run(() -> {
            throw sparkFailure(new IOException("disk full\nmore detail"));
        }, "fail");
        assertEquals(new Result(1, List.of("longnet fail: failed: java.io.IOException: disk full",
                "(set LONGNET_DEBUG=1 for the stack trace)")), r);
    }

    @Test
    void aDriverOutOfMemoryEndsInOneLineWithAdviceThatWorks() {
        Result direct = run(() -> {
            throw new OutOfMemoryError("Java heap space");
        }, "fail");
        Result inTask = run(() -> {
            throw sparkFailure(new OutOfMemoryError("Java heap space"));
        }, "fail");
        for (Result r : List.of(direct, inTask)) {
            assertEquals(2, r.code());
            assertEquals(1, r.err().size(), r.err()::toString);
            assertTrue(r.err().get(0).startsWith("longnet: out of memory (the driver's heap is "), r.err()::toString);
            assertTrue(r.err().get(0).contains("bin/longnet --driver-memory 4g (or LONGNET_JAVA_OPTS=-Xmx4g;"),
                    r.err()::toString);
        }
    }

    @Test
    void aHeapBelowSparksMinimumSaysHowToGiveMore() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Preflight.heap(200L << 20));
        assertEquals("the driver's heap is 200 MiB, below the 450 MiB Spark needs: " + Main.MEMORY_ADVICE, e.getMessage());
        Preflight.heap(450L << 20);
    }

    @ParameterizedTest
    @ValueSource(strings = {"local", "local[1]", "local[16]", "local[*]", "local[4,2]", "local[*,3]",
        "local-cluster[2,1,1024]", "local-cluster[2, 1, 1024]", "spark://host:7077", "spark://a:7077,b:7078"})
    void masterUrlsSparkTakesAreAccepted(String url) {
        Preflight.master(url);
    }

    @ParameterizedTest
    @ValueSource(strings = {"local[two]", "local[0]", "local[]", "local[-1]", "locale", "local-cluster[2,1]",
        "spark://host", "spark://host:port", "spark:/host:7077", "mesos://host:5050", "k8s://", "yarn-client", ""})
    void otherMastersAreRefusedInOneLine(String url) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Preflight.master(url));
        assertEquals("--master '" + url + "' is not a Spark master URL: expected local, local[N], local[*],"
                + " local-cluster[WORKERS,CORES,MB], spark://HOST:PORT, yarn or k8s://URL", e.getMessage());
    }

    @Test
    void yarnAndKubernetesNeedASparkThatHasThem() {
        // The test classpath, as bin/longnet's, has Spark's core without its YARN and Kubernetes modules.
        assertEquals("--master yarn: this Spark has no YARN support: run the jar with spark-submit of a Spark"
                + " distribution that has it", assertThrows(IllegalArgumentException.class,
                () -> Preflight.master("yarn")).getMessage());
        assertEquals("--master k8s://https://10.0.0.1:6443: this Spark has no Kubernetes support: run the jar with"
                + " spark-submit of a Spark distribution that has it", assertThrows(IllegalArgumentException.class,
                () -> Preflight.master("k8s://https://10.0.0.1:6443")).getMessage());
    }

    @Test
    void aMasterOfSeveralHostsIsReachableWhenOneIs() throws IOException {
        try (java.net.ServerSocket server = new java.net.ServerSocket(0, 1,
                java.net.InetAddress.getLoopbackAddress())) {
            Preflight.reachable("spark://127.0.0.1:1,127.0.0.1:" + server.getLocalPort(), 2000);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Preflight.reachable("spark://127.0.0.1:1", 2000));
            assertTrue(e.getMessage().startsWith("Spark master spark://127.0.0.1:1 is unreachable (127.0.0.1:1: "),
                    e.getMessage());
        }
    }

    @Test
    void aMasterThatDoesNotTakeTheApplicationIsRefusedInBoundedTime() throws Exception {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Preflight.startedWithin(() -> {
            Thread.sleep(60_000); // a port that accepts connections but is no master's: Spark waits 3 x 20 s
            return null;
        }, 1000, "spark://h:7077"));
        assertEquals("Spark master spark://h:7077 accepts connections but did not take this application within 1 s: is"
                + " it a Spark master's port (7077 by default), and is the master running?", e.getMessage());
        IllegalStateException failed = new IllegalStateException("Only one SparkContext should be running");
        assertEquals(failed, assertThrows(IllegalStateException.class, () -> Preflight.startedWithin(() -> {
            throw failed;
        }, 10_000, "spark://h:7077")), "a start that fails says why");
        assertEquals(null, Preflight.startedWithin(() -> null, 10_000, "spark://h:7077"));
    }
}
