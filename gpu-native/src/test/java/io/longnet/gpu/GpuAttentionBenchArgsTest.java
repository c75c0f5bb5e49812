package io.longnet.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.attention.bench.BenchCommandLine;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** GpuAttentionBench's arguments, parsed without a device: defaults, the A/B specs, bad values. */
class GpuAttentionBenchArgsTest {

    private static GpuAttentionBench parse(String... args) {
        GpuAttentionBench bench = new GpuAttentionBench();
        new CommandLine(bench).parseArgs(args);
        return bench;
    }

    @Test
    void defaultsAreTwentyRepsOfConfigsAAndB() {
        GpuAttentionBench bench = parse();
        assertEquals(20, bench.reps);
        assertEquals("A", bench.first.name());
        assertEquals(List.of(32768, 131072, 524288, 1048576), bench.first.lengths());
        assertEquals(12, bench.first.config().heads());
        assertEquals(64, bench.first.config().headDim());
        assertEquals("B:1048576", bench.second.toString());
        assertEquals(4, bench.second.config().heads());
    }

    @Test
    void positionalArgumentsOverrideInOrder() {
        GpuAttentionBench bench = parse("5", "B:4096,8192");
        assertEquals(5, bench.reps);
        assertEquals("B:4096,8192", bench.first.toString());
        assertEquals("B:1048576", bench.second.toString());
    }

    @Test
    void badArgumentsEndInOneLine() {
        for (String[] args : List.of(new String[] {"0"}, new String[] {"5", "C:1024"}, new String[] {"5", "A:x"})) {
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            int code = BenchCommandLine.execute(new GpuAttentionBench(), args, new PrintStream(new ByteArrayOutputStream()),
                    new PrintStream(err, true, StandardCharsets.UTF_8));
            String line = err.toString(StandardCharsets.UTF_8);
            assertEquals(2, code, line);
            assertEquals(1, line.lines().count(), line);
            assertTrue(line.startsWith("bench: "), line);
        }
    }

    @Test
    void helpNeedsNoDevice() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertEquals(0, BenchCommandLine.execute(new GpuAttentionBench(), new String[] {"--help"},
                new PrintStream(out, true, StandardCharsets.UTF_8), System.err));
        assertTrue(out.toString(StandardCharsets.UTF_8).startsWith("Usage: GpuAttentionBench"), out.toString());
    }
}
