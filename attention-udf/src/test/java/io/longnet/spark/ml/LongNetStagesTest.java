package io.longnet.spark.ml;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.attention.CpuAttentionKernel;
import io.longnet.attention.Tensors;
import io.longnet.model.LongNetConfig;
import io.longnet.model.LongNetModel;
import io.longnet.spark.SparkSessionExtension;
import io.longnet.spark.TokenSequences;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.function.Supplier;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link LongNetEncoder} and {@link LongNetScorer} against the single-process {@link LongNetModel} (relative
 * error under 1e-5), on sequences run whole in a task and through the sequence-parallel plan; persistence;
 * the messages of bad params and inputs.
 */
class LongNetStagesTest {

    @RegisterExtension
    static final SparkSessionExtension SPARK = new SparkSessionExtension();

    @TempDir
    static Path dir;

    private static final int B = 8;
    private static final int VOCAB = 50;
    /** 1 and 5 fit one partition of 16; 37 and 70 span 3 and 5 (branch 32:4 exchanged between two). */
    private static final int[] LENGTHS = {5, 1, 37, 70};
    private static final StructType BLOCKS = new StructType()
            .add("seq_id", DataTypes.LongType, false)
            .add("block", DataTypes.LongType, false)
            .add("tokens", DataTypes.createArrayType(DataTypes.IntegerType, false), true);

    private static LongNetModel model;
    private static String modelDir;
    private static Map<Long, int[]> sequences;

    @BeforeAll
    static void setUp() throws Exception {
        model = LongNetModel.initialize(LongNetConfig.of(VOCAB, 16, 2, 2, 32, "8:1,16:2,32:4"), 11);
        modelDir = dir.resolve("model").toString();
        model.save(Path.of(modelDir));
        long seed = 0x10A6L;
        System.out.println("seed " + seed);
        SplittableRandom rnd = new SplittableRandom(seed);
        sequences = new TreeMap<>();
        for (int i = 0; i < LENGTHS.length; i++) {
            sequences.put(100L + i, rnd.ints(LENGTHS[i], 0, VOCAB).toArray());
        }
    }

    /** The sequences in blocks of {@code blockSize}, rows shuffled over 3 partitions. */
    private static Dataset<Row> blocks(Map<Long, int[]> seqs, int blockSize) {
        List<Row> rows = new ArrayList<>();
        seqs.forEach((id, ids) -> {
            for (int at = 0, b = 0; at < ids.length; at += blockSize, b++) {
                int[] part = Arrays.copyOfRange(ids, at, Math.min(ids.length, at + blockSize));
                rows.add(RowFactory.create(id, (long) b, Arrays.stream(part).boxed().toArray(Integer[]::new)));
            }
        });
        return SPARK.session().createDataFrame(rows, BLOCKS).repartition(3);
    }

    private static LongNetModel.Output reference(int[] ids, boolean keepHidden) {
        try (CpuAttentionKernel kernel = new CpuAttentionKernel(1)) {
            return model.forward(ids, kernel, keepHidden);
        }
    }

    /** Reassembles each sequence's hidden states from the encoder's block rows, checking their shape. */
    private static Map<Long, float[]> gather(Dataset<Row> out, String col, int blockSize) {
        int d = model.config().dModel();
        Map<Long, float[]> got = new HashMap<>();
        Map<Long, Integer> rowsSeen = new HashMap<>();
        for (Row r : out.collectAsList()) {
            long id = r.getLong(0);
            int n = sequences.get(id).length;
            float[] all = got.computeIfAbsent(id, k -> new float[n * d]);
            int at = (int) r.getLong(1) * blockSize;
            // Nested arrays come back as Scala sequences inside the Java list.
            List<scala.collection.Seq<?>> positions = r.getList(r.fieldIndex(col));
            assertEquals(Math.min(blockSize, n - at), positions.size(), "positions of block " + r.getLong(1) + " of " + id);
            for (int i = 0; i < positions.size(); i++) {
                scala.collection.Seq<?> h = positions.get(i);
                assertEquals(d, h.size());
                for (int c = 0; c < d; c++) {
                    all[(at + i) * d + c] = (Float) h.apply(c);
                }
            }
            rowsSeen.merge(id, 1, Integer::sum);
        }
        sequences.forEach((id, ids) -> assertEquals((ids.length + blockSize - 1) / blockSize, rowsSeen.get(id),
                "one output row per input block of sequence " + id));
        return got;
    }

    @Test
    void longSequencesTakeTheSequenceParallelPath() {
        TokenSequences planned = new TokenSequences(blocks(sequences, B), 0, model.config(), 16, io.longnet.attention.Backend.CPU);
        assertEquals(List.of(102L, 103L), planned.spread().stream().sorted().toList());
        assertEquals(java.util.Set.of(100L, 101L), planned.whole());
        assertEquals(B, planned.blockSize());
        assertEquals(5 + 1 + 37 + 70, planned.tokens());
    }

    /**
     * L = 16: branch 32:4 is exchanged (the sequence-parallel model); L = 32: every branch is local, so each
     * partition runs every layer in one task.
     */
    @ParameterizedTest(name = "layer {0} (-1: final features), L = {1}")
    @org.junit.jupiter.params.provider.CsvSource({"-1, 16", "0, 16", "1, 16", "2, 16", "-1, 32", "1, 32"})
    void encoderEqualsTheSingleProcessModel(int layer, int partitionLength) {
        LongNetEncoder encoder = new LongNetEncoder().setModelPath(modelDir).setLayer(layer)
                .setPartitionLength(partitionLength).setBackend("cpu");
        Dataset<Row> in = blocks(sequences, B);
        Dataset<Row> out = encoder.transform(in);
        assertEquals(encoder.transformSchema(in.schema()), out.schema());
        Map<Long, float[]> got = gather(out, "hidden", B);
        for (Map.Entry<Long, int[]> e : sequences.entrySet()) {
            LongNetModel.Output o = reference(e.getValue(), layer >= 0);
            float[] want = layer < 0 ? o.features() : o.hiddenStates().get(layer);
            double err = Tensors.relativeError(got.get(e.getKey()), want);
            assertTrue(err < 1e-5, "sequence " + e.getKey() + " (n=" + e.getValue().length + "): relative error " + err);
        }
    }

    /** Whole sequences as single rows (block 0), the partition length chosen: every sequence fits one task. */
    @Test
    void encoderTakesWholeSequencesAsOneBlock() {
        Dataset<Row> in = blocks(sequences, 1000).withColumnRenamed("tokens", "ids");
        Dataset<Row> out = new LongNetEncoder().setModelPath(modelDir).setTokensCol("ids").setOutputCol("h")
                .setBackend("cpu").transform(in);
        Map<Long, float[]> got = gather(out, "h", 1000);
        for (Map.Entry<Long, int[]> e : sequences.entrySet()) {
            double err = Tensors.relativeError(got.get(e.getKey()), reference(e.getValue(), false).features());
            assertTrue(err < 1e-5, "sequence " + e.getKey() + ": relative error " + err);
        }
    }

    @ParameterizedTest(name = "partitionLength {0}")
    @ValueSource(ints = {0, 16, 32})
    void scorerEqualsTheSingleProcessModel(int partitionLength) {
        LongNetScorer scorer = new LongNetScorer().setModelPath(modelDir).setPartitionLength(partitionLength)
                .setBackend("cpu").setLogProbsCol("log_probs");
        Dataset<Row> in = blocks(sequences, B);
        Dataset<Row> out = scorer.transform(in);
        assertEquals(scorer.transformSchema(in.schema()), out.schema());
        List<Row> rows = out.collectAsList();
        assertEquals(sequences.size(), rows.size());
        for (Row r : rows) {
            int[] ids = sequences.get(r.getLong(0));
            float[] want;
            try (CpuAttentionKernel kernel = new CpuAttentionKernel(1)) {
                want = ids.length > 1 ? model.nextTokenLogProbs(ids, kernel) : new float[0];
            }
            double sum = 0;
            for (float x : want) {
                sum += x;
            }
            assertEquals(ids.length, r.getLong(r.fieldIndex("tokens")));
            assertEquals(ids.length - 1, r.getLong(r.fieldIndex("predictions")));
            assertEquals(sum, r.getDouble(r.fieldIndex("log_likelihood")), 1e-5 * Math.abs(sum));
            List<Float> lp = r.getList(r.fieldIndex("log_probs"));
            assertEquals(want.length, lp.size());
            float[] gotLp = new float[lp.size()];
            for (int i = 0; i < gotLp.length; i++) {
                gotLp[i] = lp.get(i);
            }
            if (want.length == 0) {
                assertTrue(r.isNullAt(r.fieldIndex("mean_nll")), "a one-token sequence predicts nothing");
                assertTrue(r.isNullAt(r.fieldIndex("perplexity")));
                continue;
            }
            double err = Tensors.relativeError(gotLp, want);
            assertTrue(err < 1e-5, "sequence " + r.getLong(0) + ": per-token relative error " + err);
            double nll = -sum / want.length;
            assertEquals(nll, r.getDouble(r.fieldIndex("mean_nll")), 1e-5 * nll);
            assertEquals(Math.exp(nll), r.getDouble(r.fieldIndex("perplexity")), 1e-5 * Math.exp(nll));
        }
    }

    @Test
    void scorerWithoutPerTokenColumnGivesTheSameTotals() {
        Dataset<Row> in = blocks(sequences, B);
        LongNetScorer scorer = new LongNetScorer().setModelPath(modelDir).setPartitionLength(16).setBackend("cpu");
        List<Row> totals = scorer.transform(in).orderBy("seq_id").collectAsList();
        List<Row> withTokens = scorer.copy(new ParamMap().put(scorer.logProbsCol(), "lp")).transform(in)
                .orderBy("seq_id").collectAsList();
        assertEquals(List.of(LongNetScorer.SCHEMA.fieldNames()), List.of(totals.get(0).schema().fieldNames()));
        for (int i = 0; i < totals.size(); i++) {
            for (int c = 0; c < 3; c++) {
                assertEquals(totals.get(i).get(c), withTokens.get(i).get(c));
            }
            double a = totals.get(i).getDouble(3);
            assertEquals(a, withTokens.get(i).getDouble(3), 1e-9 * Math.abs(a));
        }
    }

    @Test
    void saveLoadKeepsParamsAndResults() throws Exception {
        Dataset<Row> in = blocks(sequences, B).withColumnRenamed("tokens", "ids");
        LongNetEncoder encoder = new LongNetEncoder().setModelPath(modelDir).setLayer(1).setPartitionLength(16)
                .setBackend("cpu").setTokensCol("ids").setOutputCol("states").setCheckpointEvery(0);
        String encoderPath = dir.resolve("encoder").toString();
        encoder.write().save(encoderPath);
        LongNetEncoder loadedEncoder = LongNetEncoder.load(encoderPath);
        assertEquals(encoder.uid(), loadedEncoder.uid());
        assertEquals(encoder.extractParamMap().toString(), loadedEncoder.extractParamMap().toString());
        assertEquals(modelDir, loadedEncoder.getModelPath());
        assertEquals(1, loadedEncoder.getLayer());
        assertEquals(16, loadedEncoder.getPartitionLength());
        assertEquals("states", loadedEncoder.getOutputCol());
        assertEquals("ids", loadedEncoder.getTokensCol());
        assertRowsEqual(encoder.transform(in), loadedEncoder.transform(in));

        LongNetScorer scorer = new LongNetScorer().setModelPath(modelDir).setPartitionLength(32).setBackend("cpu")
                .setTokensCol("ids").setLogProbsCol("lp");
        String scorerPath = dir.resolve("scorer").toString();
        scorer.write().save(scorerPath);
        LongNetScorer loadedScorer = LongNetScorer.load(scorerPath);
        assertEquals(scorer.uid(), loadedScorer.uid());
        assertEquals(scorer.extractParamMap().toString(), loadedScorer.extractParamMap().toString());
        assertEquals("lp", loadedScorer.getLogProbsCol());
        assertEquals(32, loadedScorer.getPartitionLength());
        assertEquals("cpu", loadedScorer.getBackend());
        assertRowsEqual(scorer.transform(in), loadedScorer.transform(in));
    }

    private static void assertRowsEqual(Dataset<Row> a, Dataset<Row> b) {
        String[] keys = Arrays.asList(a.columns()).contains("block") ? new String[] {"seq_id", "block"}
                : new String[] {"seq_id"};
        List<Row> x = a.orderBy(keys[0], Arrays.copyOfRange(keys, 1, keys.length)).collectAsList();
        List<Row> y = b.orderBy(keys[0], Arrays.copyOfRange(keys, 1, keys.length)).collectAsList();
        assertEquals(x.size(), y.size());
        assertTrue(!x.isEmpty());
        for (int i = 0; i < x.size(); i++) {
            assertEquals(x.get(i), y.get(i), "row " + i);
        }
    }

    @Test
    void copyKeepsParamsAndAppliesExtra() {
        LongNetEncoder encoder = new LongNetEncoder().setModelPath(modelDir).setLayer(2);
        LongNetEncoder copy = encoder.copy(new ParamMap().put(encoder.backend(), "cpu"));
        assertEquals(encoder.uid(), copy.uid());
        assertEquals(2, copy.getLayer());
        assertEquals(modelDir, copy.getModelPath());
        assertEquals("cpu", copy.getBackend());
        assertEquals("auto", encoder.getBackend());
    }

    private static String error(Supplier<?> action) {
        return assertThrows(IllegalArgumentException.class, action::get).getMessage();
    }

    @Test
    void badParamsSayWhatToFix() {
        StructType schema = BLOCKS;
        String unset = error(() -> new LongNetEncoder().transformSchema(schema));
        assertTrue(unset.contains("param modelPath is not set"), unset);
        String missing = error(() -> new LongNetScorer().setModelPath(dir.resolve("nowhere").toString())
                .transformSchema(schema));
        assertTrue(missing.contains("nowhere/config.json does not exist"), missing);
        String layer = error(() -> new LongNetEncoder().setModelPath(modelDir).setLayer(3).transformSchema(schema));
        assertTrue(layer.contains("param layer 3: the model has layers 0 (embeddings) to 2"), layer);
        String backend = error(() -> new LongNetEncoder().setModelPath(modelDir).setBackend("tpu")
                .transformSchema(schema));
        assertTrue(backend.contains("expected auto, cpu or gpu"), backend);
        String length = error(() -> new LongNetScorer().setModelPath(modelDir).setPartitionLength(12)
                .transformSchema(schema));
        assertTrue(length.contains("partition length 12 does not fit branch"), length);
        String checkpoints = error(() -> new LongNetScorer().setModelPath(modelDir).setCheckpointEvery(-1)
                .transformSchema(schema));
        assertTrue(checkpoints.contains("param checkpointEvery must be >= 0"), checkpoints);
        String tokens = error(() -> new LongNetScorer().setModelPath(modelDir).setTokensCol("ids")
                .transformSchema(schema));
        assertTrue(tokens.contains("input column 'ids' (array<int>) is missing"), tokens);
        StructType longIds = new StructType().add("seq_id", DataTypes.LongType).add("block", DataTypes.LongType)
                .add("tokens", DataTypes.createArrayType(DataTypes.LongType));
        String type = error(() -> new LongNetScorer().setModelPath(modelDir).transformSchema(longIds));
        assertTrue(type.contains("'tokens' has type array<bigint>, expected array<int>"), type);
        StructType intBlock = new StructType().add("seq_id", DataTypes.LongType).add("block", DataTypes.IntegerType)
                .add("tokens", DataTypes.createArrayType(DataTypes.IntegerType));
        String block = error(() -> new LongNetEncoder().setModelPath(modelDir).transformSchema(intBlock));
        assertTrue(block.contains("'block' has type int, expected bigint"), block);
        String exists = error(() -> new LongNetEncoder().setModelPath(modelDir).transformSchema(
                schema.add("hidden", DataTypes.StringType)));
        assertTrue(exists.contains("output column 'hidden' already exists"), exists);
        String clash = error(() -> new LongNetScorer().setModelPath(modelDir).setLogProbsCol("mean_nll")
                .transformSchema(schema));
        assertTrue(clash.contains("param logProbsCol 'mean_nll' clashes"), clash);
    }

    @Test
    void malformedBlocksAreRejectedOnTheDriver() {
        LongNetScorer scorer = new LongNetScorer().setModelPath(modelDir).setBackend("cpu");
        Map<Long, int[]> one = Map.of(7L, sequences.get(103L));
        Dataset<Row> gap = blocks(one, B).filter(functions.col("block").notEqual(2));
        String numbering = error(() -> scorer.transform(gap));
        assertTrue(numbering.contains("sequence 7 has 8 block rows numbered 0..8: expected blocks 0..7"), numbering);

        List<Row> rows = new ArrayList<>(blocks(one, B).collectAsList());
        rows.replaceAll(r -> r.getLong(1) == 1
                ? RowFactory.create(7L, 1L, r.getList(2).subList(0, 5).toArray(new Integer[0])) : r);
        Dataset<Row> shortBlock = SPARK.session().createDataFrame(rows, BLOCKS);
        String full = error(() -> scorer.transform(shortBlock));
        assertTrue(full.contains("expected full blocks of 8 tokens, only the last one shorter"), full);

        List<Row> twice = new ArrayList<>(blocks(one, B).collectAsList());
        twice.replaceAll(r -> r.getLong(1) == 2 ? RowFactory.create(7L, 1L, r.getList(2).toArray(new Integer[0])) : r);
        String duplicate = error(() -> scorer.transform(SPARK.session().createDataFrame(twice, BLOCKS).repartition(3)));
        assertTrue(duplicate.contains("sequence 7 has 9 block rows numbered 0..8: expected blocks 0..8, each once"),
                duplicate);

        String nulls = error(() -> scorer.transform(SPARK.session().createDataFrame(List.of(
                RowFactory.create(8L, 0L, new Integer[] {1, 2}), RowFactory.create(8L, 1L, null)), BLOCKS)));
        assertTrue(nulls.contains("sequence 8 has 1 block(s) with null tokens"), nulls);
        String empty = error(() -> scorer.transform(SPARK.session().createDataFrame(List.of(
                RowFactory.create(6L, 0L, new Integer[] {1, 2}), RowFactory.create(6L, 1L, new Integer[0])), BLOCKS)));
        assertTrue(empty.contains("sequence 6 has an empty block"), empty);

        Dataset<Row> outside = SPARK.session().createDataFrame(List.of(RowFactory.create(9L, 0L,
                new Integer[] {3, VOCAB, 4})), BLOCKS);
        String vocab = error(() -> scorer.transform(outside));
        assertTrue(vocab.contains("sequence 9 holds token id 50, outside the model's vocabulary [0, 50)"), vocab);

        String multiple = error(() -> new LongNetEncoder().setModelPath(modelDir).setPartitionLength(16)
                .setBackend("cpu").transform(blocks(one, 24)));
        assertTrue(multiple.contains("partition length 16 is not a multiple of the 24-position blocks of the input:"
                + " valid: 96, 192, 288"), multiple);
    }

    @Test
    void emptyInputGivesEmptyOutput() {
        Dataset<Row> none = blocks(sequences, B).filter(functions.lit(false));
        assertEquals(0, new LongNetScorer().setModelPath(modelDir).transform(none).count());
        Dataset<Row> encoded = new LongNetEncoder().setModelPath(modelDir).transform(none);
        assertEquals(0, encoded.count());
        assertArrayEquals(new String[] {"seq_id", "block", "hidden"}, encoded.columns());
    }
}
