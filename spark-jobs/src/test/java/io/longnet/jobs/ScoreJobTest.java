package io.longnet.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.attention.Backend;
import io.longnet.attention.CpuAttentionKernel;
import io.longnet.datasets.DocumentMode;
import io.longnet.datasets.TokenBlocks;
import io.longnet.datasets.TokenizeOptions;
import io.longnet.model.LongNetConfig;
import io.longnet.model.LongNetModel;
import io.longnet.spark.SparkSessionExtension;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** tokenize, then score: per-sequence NLL and per-token log-probs equal the single-process model's. */
class ScoreJobTest {

    @RegisterExtension
    static final SparkSessionExtension SPARK = new SparkSessionExtension();

    @TempDir
    Path dir;

    @Test
    void scoresEqualTheSingleProcessModelOnBothPaths() throws Exception {
        // Documents of 5 to 70 bytes, B = 8: those longer than L = 16 go through the sequence-parallel model
        // (branch 32:4 spans 2 partitions), the others are scored whole in a task.
        Path corpus = dir.resolve("corpus.txt");
        Files.writeString(corpus, "short one\nanother short\n"
                + "a much longer line that certainly spans several partitions of sixteen\n"
                + "mid-sized line of text here\nz\n");
        String tokens = dir.resolve("tokens").toUri().toString();
        TokenBlocks.write(SPARK.session(), corpus.toUri().toString(), tokens,
                TokenizeOptions.defaults(DocumentMode.LINE).withBlockSize(8));
        Path modelDir = dir.resolve("model");
        LongNetConfig config = LongNetConfig.of(258, 16, 2, 2, 32, "8:1,16:2,32:4");
        LongNetModel model = LongNetModel.initialize(config, 3);
        model.save(modelDir);

        String out = dir.resolve("scores").toUri().toString();
        ScoreJob.Summary summary = ScoreJob.run(SPARK.session(), new ScoreJob.Request(tokens, modelDir.toString(), out,
                true, 16, Backend.CPU, 1, null, false), new PrintStream(new ByteArrayOutputStream()));

        try (java.util.stream.Stream<Path> left = Files.list(dir)) {
            assertTrue(left.noneMatch(p -> p.getFileName().toString().contains("longnet-checkpoints")),
                    "the job's own checkpoint folder (used: a 2-layer model, checkpoints every layer) is removed");
        }
        // Reference: each sequence's tokens (test-only collect), through the model in one process.
        Map<Long, TreeMap<Long, int[]>> blocks = new HashMap<>();
        for (Row r : TokenBlocks.read(SPARK.session(), tokens).collectAsList()) {
            List<Integer> list = r.getList(2);
            blocks.computeIfAbsent(r.getLong(0), k -> new TreeMap<>()).put(r.getLong(1),
                    list.stream().mapToInt(Integer::intValue).toArray());
        }
        Map<Long, float[]> want = new HashMap<>();
        double lpSum = 0;
        long predictions = 0;
        try (CpuAttentionKernel kernel = new CpuAttentionKernel(1)) {
            for (Map.Entry<Long, TreeMap<Long, int[]>> e : blocks.entrySet()) {
                int[] ids = e.getValue().values().stream().flatMapToInt(java.util.Arrays::stream).toArray();
                float[] lp = ids.length > 1 ? model.nextTokenLogProbs(ids, kernel) : new float[0];
                want.put(e.getKey(), lp);
                for (float x : lp) {
                    lpSum += x;
                }
                predictions += lp.length;
            }
        }
        assertEquals(5, blocks.size());
        assertTrue(blocks.values().stream().anyMatch(b -> b.size() > 2), "a sequence longer than L = 16 exists");
        assertEquals(-lpSum / predictions, summary.meanNll(), 1e-5 * Math.abs(lpSum / predictions));

        for (Row r : SPARK.session().read().parquet(out + "/sequences").collectAsList()) {
            float[] lp = want.get(r.getLong(0));
            assertEquals(lp.length + 1, r.getLong(1), "token count of sequence " + r.getLong(0));
            if (lp.length == 0) {
                assertTrue(r.isNullAt(2), "a one-token sequence predicts nothing");
                continue;
            }
            double nll = 0;
            for (float x : lp) {
                nll -= x;
            }
            nll /= lp.length;
            assertEquals(nll, r.getDouble(2), 1e-5 * nll, "mean NLL of sequence " + r.getLong(0));
            assertEquals(Math.exp(nll), r.getDouble(3), 1e-4 * Math.exp(nll));
        }
        // Document layout: a document is its sequence.
        Map<Long, Double> bySequence = new HashMap<>();
        for (Row r : SPARK.session().read().parquet(out + "/sequences").collectAsList()) {
            bySequence.put(r.getLong(0), r.isNullAt(2) ? null : r.getDouble(2));
        }
        for (Row d : SPARK.session().read().parquet(out + "/documents").collectAsList()) {
            assertEquals(bySequence.get(d.getLong(1)), d.isNullAt(5) ? null : d.getDouble(5), "document " + d.getLong(0));
        }
        Map<Long, List<Float>> perToken = new HashMap<>();
        List<Row> rows = new ArrayList<>(SPARK.session().read().parquet(out + "/log_probs").orderBy("seq_id", "block")
                .collectAsList());
        for (Row r : rows) {
            List<Float> values = r.getList(2);
            perToken.computeIfAbsent(r.getLong(0), k -> new ArrayList<>()).addAll(values);
        }
        for (Map.Entry<Long, float[]> e : want.entrySet()) {
            List<Float> got = perToken.getOrDefault(e.getKey(), List.of());
            assertEquals(e.getValue().length, got.size(), "per-token values of sequence " + e.getKey());
            for (int i = 0; i < got.size(); i++) {
                assertEquals(e.getValue()[i], got.get(i), 1e-5 * Math.max(1, Math.abs(e.getValue()[i])));
            }
        }
    }

    /** A token dataset with a part file missing is refused, naming what its manifest lists; nothing is written. */
    @Test
    void anIncompleteTokenDatasetIsRefused() throws Exception {
        Path corpus = dir.resolve("parts.txt");
        Files.writeString(corpus, "one line\nanother line\na third line here\nfour\n");
        Path tokens = dir.resolve("parts-tokens");
        TokenBlocks.write(SPARK.session(), corpus.toUri().toString(), tokens.toUri().toString(),
                TokenizeOptions.defaults(DocumentMode.LINE).withBlockSize(8));
        List<Path> parts;
        try (java.util.stream.Stream<Path> s = Files.list(tokens)) {
            parts = s.filter(p -> p.getFileName().toString().startsWith("part-")).sorted().toList();
        }
        assertTrue(!parts.isEmpty(), "part files: " + parts);
        Files.delete(parts.get(0));  // the sequences of one part (here: all) are gone
        Path modelDir = dir.resolve("parts-model");
        LongNetModel.initialize(LongNetConfig.of(258, 16, 2, 1, 32, "8:1,16:2"), 5).save(modelDir);
        String out = dir.resolve("parts-scores").toUri().toString();
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> ScoreJob.run(SPARK.session(), new ScoreJob.Request(tokens.toUri().toString(), modelDir.toString(),
                        out, false, 0, Backend.CPU, 0, null, false), new PrintStream(new ByteArrayOutputStream())));
        assertTrue(e.getMessage().contains("is incomplete or altered: its manifest lists 4 sequence(s)"), e.getMessage());
        assertTrue(Files.notExists(dir.resolve("parts-scores")), "nothing written");
    }

    /** One sequence of the whole corpus: each document's NLL counts the predictions of its own tokens. */
    @Test
    void concatenatedCorporaAreScoredPerDocument() throws Exception {
        Path corpus = dir.resolve("corpus.txt");
        Files.writeString(corpus, "first document\nthe second one is longer than the first\nthird\nand a fourth\n");
        String tokens = dir.resolve("tokens").toUri().toString();
        TokenBlocks.write(SPARK.session(), corpus.toUri().toString(), tokens,
                TokenizeOptions.defaults(DocumentMode.LINE).withBlockSize(8).withConcatenate(true));
        Path modelDir = dir.resolve("model");
        LongNetModel model = LongNetModel.initialize(LongNetConfig.of(258, 16, 2, 1, 32, "8:1,16:2,32:4"), 5);
        model.save(modelDir);
        String out = dir.resolve("scores").toUri().toString();
        ScoreJob.run(SPARK.session(), new ScoreJob.Request(tokens, modelDir.toString(), out, false, 16, Backend.CPU, 1, null,
                false), new PrintStream(new ByteArrayOutputStream()));

        TreeMap<Long, int[]> blocks = new TreeMap<>();
        for (Row r : TokenBlocks.read(SPARK.session(), tokens).collectAsList()) {
            List<Integer> list = r.getList(2);
            blocks.put(r.getLong(1), list.stream().mapToInt(Integer::intValue).toArray());
        }
        int[] ids = blocks.values().stream().flatMapToInt(java.util.Arrays::stream).toArray();
        float[] lp;
        try (CpuAttentionKernel kernel = new CpuAttentionKernel(1)) {
            lp = model.nextTokenLogProbs(ids, kernel);
        }
        Map<Long, Row> docs = new HashMap<>();
        for (Row d : TokenBlocks.documents(SPARK.session(), tokens).collectAsList()) {
            docs.put(d.getLong(0), d);
        }
        List<Row> got = SPARK.session().read().parquet(out + "/documents").collectAsList();
        assertEquals(4, got.size());
        for (Row g : got) {
            Row d = docs.get(g.getLong(0));
            long first = d.getLong(d.fieldIndex("first"));
            long length = d.getLong(d.fieldIndex("length"));
            double nll = 0;
            for (long p = first; p < first + length - 1; p++) {
                nll -= lp[(int) p];
            }
            nll /= length - 1;
            assertEquals(length, g.getLong(4), "tokens of document " + g.getLong(0));
            assertEquals(nll, g.getDouble(5), 1e-5 * nll, "mean NLL of document " + g.getLong(0));
        }
    }
}
