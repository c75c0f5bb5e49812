package io.longnet.attention.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.attention.VectorApi;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** AttentionBench's flags (those docs/BENCHMARKS.md uses), their defaults, and one line for a bad one. */
class AttentionBenchArgsTest {

    private static AttentionBench parse(String... args) {
        AttentionBench bench = new AttentionBench();
        new CommandLine(bench).parseArgs(args);
        return bench;
    }

    @Test
    void defaults() {
        AttentionBench bench = parse();
        assertEquals(List.of(65_536, 1_048_576), bench.sizes);
        assertEquals(Runtime.getRuntime().availableProcessors(), bench.threads);
        assertEquals(1 << 20, bench.chunk);
        assertEquals(1, bench.warmup);
        assertEquals(1, bench.repeats);
        assertEquals(4, bench.attention.config().heads());
        assertEquals(32, bench.attention.config().headDim());
        assertEquals("[256:1, 512:2, 1024:4]", bench.attention.config().branches().toString());
        assertEquals(List.of(false, true), bench.attention.causal());
    }

    @Test
    void flagsAsDocumented() {
        AttentionBench bench = parse("--sizes", "65536,1048576,16777216", "--branches", "64:1,128:2", "--heads", "2",
                "--dim", "8", "--causal", "true", "--threads", "3", "--chunk", "4096", "--warmup", "3",
                "--repeats", "5");
        assertEquals(List.of(65_536, 1_048_576, 16_777_216), bench.sizes);
        assertEquals(2, bench.attention.config().heads());
        assertEquals(8, bench.attention.config().headDim());
        assertEquals(List.of(true), bench.attention.causal());
        assertEquals(3, bench.threads);
        assertEquals(4096, bench.chunk);
        assertEquals(3, bench.warmup);
        assertEquals(5, bench.repeats);
    }

    @Test
    void aSmallRunPrintsItsTable() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream before = System.out;
        int code;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            code = BenchCommandLine.execute(new AttentionBench(), new String[] {"--sizes", "256", "--branches",
                    "16:1,32:2", "--heads", "2", "--dim", "8", "--threads", "1", "--chunk", "128", "--warmup", "0",
                    "--repeats", "3"},
                    System.out, System.err);
        } finally {
            System.setOut(before);
        }
        List<String> lines = out.toString(StandardCharsets.UTF_8).lines().toList();
        assertEquals(0, code, String.join("\n", lines));
        // header, what the tiles ran on, column names, non-causal, causal
        assertEquals(5, lines.size(), String.join("\n", lines));
        assertTrue(lines.get(1).startsWith("tiles: " + (VectorApi.available() ? "Vector API" : "scalar loops")),
                lines.get(1));
        assertTrue(lines.get(3).trim().startsWith("256"), lines.get(3));
    }

    @Test
    void badValuesEndInOneLine() {
        assertOneLine("bench: --causal takes both, true or false (got 'maybe') (try --help)", "--causal", "maybe");
        assertOneLine("bench: --chunk 48 is not a multiple of segment length 32 of branch 32:2", "--branches",
                "16:1,32:2", "--chunk", "48");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(2, BenchCommandLine.execute(new AttentionBench(), new String[] {"--heads", "0"},
                new PrintStream(new ByteArrayOutputStream()), new PrintStream(err, true, StandardCharsets.UTF_8)));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("'0' is not a whole number >= 1"), err.toString());
    }

    private static void assertOneLine(String line, String... args) {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(2, BenchCommandLine.execute(new AttentionBench(), args, new PrintStream(new ByteArrayOutputStream()),
                new PrintStream(err, true, StandardCharsets.UTF_8)));
        assertEquals(List.of(line), err.toString(StandardCharsets.UTF_8).lines().toList());
    }
}
