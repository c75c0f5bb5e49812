package io.longnet.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.attention.Backend;
import io.longnet.attention.BranchTemplate;
import io.longnet.spark.ExchangeMode;
import io.longnet.spark.SparkSessionExtension;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code longnet bench attend --synthetic}: the run verifies its sampled rows and prints its checksums and
 * shuffle figures; the gathered exchange fetches O(P) shuffle blocks where the direct one fetches P^2, with
 * the same bytes per partition at twice the length and the same checksums.
 */
class AttendBenchSyntheticTest {

    @RegisterExtension
    static final SparkSessionExtension SPARK = new SparkSessionExtension();

    static final BranchTemplate SMALL = new BranchTemplate("16:1,L:L/16,N:N/16");

    static AttendBench.SyntheticRequest request(List<Long> tokens, boolean causal, ExchangeMode mode) {
        return new AttendBench.SyntheticRequest(SMALL, 2, 8, tokens, List.of(causal), 128, Backend.CPU, true, 3, 2,
                mode);
    }

    static List<AttendBench.SyntheticRun> run(AttendBench.SyntheticRequest r) throws Exception {
        return AttendBench.runSynthetic(SPARK.session(), r, new PrintStream(PrintStream.nullOutputStream()));
    }

    @Test
    void gatheredBlocksGrowLinearlyAndBytesPerPartitionStayConstant() throws Exception {
        List<AttendBench.SyntheticRun> gathered = run(request(List.of(2048L, 4096L), false, ExchangeMode.GATHERED));
        List<AttendBench.SyntheticRun> direct = run(request(List.of(2048L), false, ExchangeMode.DIRECT));
        AttendBench.SyntheticRun small = gathered.get(0);
        AttendBench.SyntheticRun large = gathered.get(1);
        assertEquals(16, small.plan().partitions());
        assertEquals(32, large.plan().partitions());
        // One block from each partition to its segment's first, one from there to each partition.
        assertEquals(2 * 16, small.blocks());
        assertEquals(2 * 32, large.blocks());
        assertEquals(16 * 16, direct.get(0).blocks(), "all to all");
        assertTrue(small.maxShuffle() > 0 && large.maxShuffle() <= small.maxShuffle() * 1.05,
                "bytes per partition: " + small.maxShuffle() + " at P=16, " + large.maxShuffle() + " at P=32");
        assertEquals(direct.get(0).checksum(), small.checksum(), "the same results either way");
        for (AttendBench.SyntheticRun r : gathered) {
            assertTrue(r.worstError() < 1e-5, "verified: " + r.worstError());
        }
    }

    @Test
    void theCommandPrintsItsTableAndFailsInOneLineOnMisuse() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream stdout = System.out; // the commands print their tables there, as on a terminal
        int code;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            code = Main.execute(new String[] {"bench", "attend", "--synthetic", "--tokens", "2048", "--heads", "2",
                    "--dim", "8", "--branches", SMALL.text(), "--partition-length", "128", "--causal", "true",
                    "--backend", "cpu", "--samples", "2"}, System.out, new PrintStream(err, true, StandardCharsets.UTF_8));
        } finally {
            System.setOut(stdout);
        }
        String text = out.toString(StandardCharsets.UTF_8);
        assertEquals(0, code, err.toString(StandardCharsets.UTF_8) + text);
        assertTrue(text.contains("branches 16:1,L:L/16,N:N/16, H=2, d=8, bf16 inputs (seed 0), 2 sampled rows"), text);
        assertTrue(text.lines().anyMatch(l -> l.matches(" +2048 +true +128 +16 .* o -?[0-9.]+ lse -?[0-9.]+ \\(.*")),
                text);
        assertTrue(text.contains("spanning 2048:128 over 16 partitions; ran on cpu"), text);

        err.reset();
        code = Main.execute(new String[] {"bench", "attend", "--tokens", "2048", "--seed", "1"},
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(2, code);
        assertEquals(List.of("longnet bench attend: --tokens, --seed need --synthetic (add it, or leave them out for"
                + " the comparison with the engine)"), err.toString(StandardCharsets.UTF_8).lines().toList());
        err.reset();
        code = Main.execute(new String[] {"bench", "attend", "--synthetic", "--precision", "fp16"},
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(2, code);
        assertEquals(List.of("longnet bench attend: --precision 'fp16': expected bf16 or fp32"),
                err.toString(StandardCharsets.UTF_8).lines().toList());
    }

    @Test
    void aRowAboveThePrecisionsBoundFailsTheRunNamingIt() throws Exception {
        AttendBench.SyntheticRun ok = run(request(List.of(2048L), true, ExchangeMode.AUTO)).get(0);
        AttendBench.SyntheticRun bad = new AttendBench.SyntheticRun(ok.plan(), ok.jobSeconds(), ok.blocks(),
                ok.maxBlocks(), ok.maxShuffle(), ok.meanShuffle(), ok.checksum(), 2e-5, 77, ok.partitions());
        AttendBench.verify(bad, true);
        AttendBench.VerificationFailed e = assertThrows(AttendBench.VerificationFailed.class,
                () -> AttendBench.verify(bad, false));
        assertEquals("verification failed: N=2048 causal=true: the sampled row at position 77 has relative error"
                + " 2.00e-05 against float64, above the fp32 bound 1e-05", e.getMessage());
    }
}
