package io.longnet.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.attention.Backend;
import io.longnet.datasets.DocumentMode;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.ParseResult;

/**
 * The CLI's options as parsed, without running a job (no Spark): defaults, the enum-valued options'
 * spellings, and one line on stderr with exit code 2 for a bad value.
 */
class CliOptionsTest {

    private static final PrintStream QUIET = new PrintStream(new ByteArrayOutputStream());

    /** The command object of the (last) subcommand {@code args} select. */
    @SuppressWarnings("unchecked")
    private static <T> T parse(String... args) {
        ParseResult result = Main.commandLine(QUIET, QUIET).parseArgs(args);
        while (result.hasSubcommand()) {
            result = result.subcommand();
        }
        return (T) result.commandSpec().userObject();
    }

    @Test
    void modelJobOptionsKeepTheirDefaults() {
        Main.Score score = parse("score", "--tokens", "t", "--model", "m", "--out", "o");
        assertEquals(Backend.AUTO, score.job.backend.choice);
        assertEquals(0, score.job.partitioning.length);
        assertEquals(4, score.job.checkpointEvery);
        assertNull(score.job.checkpointDir);
        assertEquals(false, score.job.replace.overwrite);
        assertNull(score.job.master.url);
        Main.Encode encode = parse("encode", "--tokens", "t", "--model", "m", "--out", "o", "--backend", "cpu",
                "--partition-length", "64", "--overwrite", "--master", "local[1]", "--layer", "2");
        assertEquals(Backend.CPU, encode.job.backend.choice);
        assertEquals(64, encode.job.partitioning.length);
        assertTrue(encode.job.replace.overwrite);
        assertEquals("local[1]", encode.job.master.url);
        assertEquals(2, encode.layer);
    }

    @Test
    void enumOptionsTakeTheDocumentedSpellings() {
        Main.Attend attend = parse("attend", "--qkv", "q", "--out", "o", "--branches", "8:1");
        assertEquals(Backend.AUTO, attend.backend.choice);
        assertEquals(Backend.GPU, ((Main.Attend) parse("attend", "--qkv", "q", "--out", "o", "--branches", "8:1",
                "--backend", "gpu")).backend.choice);
        Main.Tokenize tokenize = parse("tokenize", "--corpus", "c", "--out", "t");
        assertEquals(DocumentMode.FILE, tokenize.documents);
        assertEquals(DocumentMode.LINE, ((Main.Tokenize) parse("tokenize", "--corpus", "c", "--out", "t",
                "--documents", "line")).documents);
    }

    @Test
    void aBadEnumValueEndsInOneLine() {
        assertOneLine("longnet score: backend 'tpu': expected auto, cpu or gpu",
                "score", "--tokens", "t", "--model", "m", "--out", "o", "--backend", "tpu");
        assertOneLine("longnet tokenize: document mode 'paragraph': expected 'file' or 'line'",
                "tokenize", "--corpus", "c", "--out", "t", "--documents", "paragraph");
        assertOneLine("longnet bench attend: --causal takes both, true or false (got 'maybe')",
                "bench", "attend", "--causal", "maybe");
    }

    @Test
    void aMissingOptionEndsInOneLineNamingTheHelp() {
        assertOneLine("longnet score: Missing required options: '--model=DIR', '--out=OUT' (see longnet score --help)",
                "score", "--tokens", "t");
    }

    @Test
    void everyCommandHasHelp() {
        for (String[] command : List.of(new String[] {"attend"}, new String[] {"score"}, new String[] {"encode"},
                new String[] {"train"}, new String[] {"tokenize"}, new String[] {"bench", "attend"})) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            String[] args = java.util.stream.Stream.concat(java.util.Arrays.stream(command), java.util.stream.Stream.of("--help"))
                    .toArray(String[]::new);
            assertEquals(0, Main.execute(args, new PrintStream(out, true, StandardCharsets.UTF_8), QUIET));
            assertTrue(out.toString(StandardCharsets.UTF_8).startsWith("Usage: longnet " + String.join(" ", command)),
                    out.toString(StandardCharsets.UTF_8));
        }
    }

    private static void assertOneLine(String line, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.execute(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        String stderr = err.toString(StandardCharsets.UTF_8);
        assertEquals(2, code, stderr);
        assertEquals(List.of(line), stderr.lines().toList());
        assertEquals("", out.toString(StandardCharsets.UTF_8));
    }
}
