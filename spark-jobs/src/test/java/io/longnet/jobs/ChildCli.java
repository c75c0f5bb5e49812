package io.longnet.jobs;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Test-only: the CLI in a JVM of its own, as {@code bin/longnet} runs it (this JVM's module flags, the Vector
 * API among them, the test
 * classpath, bin/longnet's log configuration), its stdout and stderr into files; for faults that end a JVM.
 */
final class ChildCli {

    final Process process;
    private final Path stdout;
    private final Path stderr;

    private ChildCli(Process process, Path stdout, Path stderr) {
        this.process = process;
        this.stdout = stdout;
        this.stderr = stderr;
    }

    /** Starts {@code longnet args...} with the system properties {@code props} ("-Dk=v" each). */
    static ChildCli start(Path logs, String name, List<String> props, String... args) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String flag : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (flag.startsWith("--add-opens") || flag.startsWith("--add-modules")
                    || flag.startsWith("-XX:+IgnoreUnrecognizedVMOptions")
                    || flag.startsWith("-Djdk.reflect") || flag.startsWith("-Dio.netty")) {
                command.add(flag);
            }
        }
        command.add("-Xmx1g");
        command.add("-Dlog4j2.configurationFile=" + Path.of("../conf/log4j2.properties").toAbsolutePath().normalize());
        command.addAll(props);
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(Main.class.getName());
        command.addAll(List.of(args));
        Files.createDirectories(logs);
        Path out = logs.resolve(name + ".out");
        Path err = logs.resolve(name + ".err");
        ProcessBuilder pb = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile());
        pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
        return new ChildCli(pb.start(), out, err);
    }

    int waitFor() throws InterruptedException {
        if (!process.waitFor(120, java.util.concurrent.TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new IllegalStateException("the child CLI did not end within 120 s");
        }
        return process.exitValue();
    }

    /** Stderr's lines less the JVM's incubator-module announcement, which bin/longnet drops too. */
    List<String> err() throws IOException {
        List<String> lines = new ArrayList<>(Files.readAllLines(stderr, StandardCharsets.UTF_8));
        lines.removeIf(line -> line.startsWith("WARNING: Using incubator modules"));
        return lines;
    }

    /** Stderr as one string, for a failure's message (or why it could not be read). */
    String errText() {
        try {
            return String.join("\n", err());
        } catch (IOException e) {
            return e.toString();
        }
    }

    String out() throws IOException {
        return Files.readString(stdout, StandardCharsets.UTF_8);
    }
}
