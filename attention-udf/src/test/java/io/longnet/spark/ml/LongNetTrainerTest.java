package io.longnet.spark.ml;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.attention.Backend;
import io.longnet.attention.CpuAttentionKernel;
import io.longnet.model.LongNetConfig;
import io.longnet.model.LongNetModel;
import io.longnet.spark.SparkSessionExtension;
import io.longnet.spark.TokenSequences;
import io.longnet.spark.training.LongNetTraining;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.apache.spark.api.java.JavaSparkContext;
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

/**
 * {@link LongNetTrainer} trains a tiny model for a few steps: the loss falls, and the scorer it returns gives
 * the scores of {@code longnet score}'s path (TokenSequences, then LongNetScorer.perSequence) on the saved
 * model, which equal the single-process model's; persistence and the messages of bad params.
 */
class LongNetTrainerTest {

    @RegisterExtension
    static final SparkSessionExtension SPARK = new SparkSessionExtension();

    @TempDir
    static Path dir;

    private static final int B = 16;
    private static final int VOCAB = 40;
    private static final StructType BLOCKS = new StructType()
            .add("seq_id", DataTypes.LongType, false)
            .add("block", DataTypes.LongType, false)
            .add("ids", DataTypes.createArrayType(DataTypes.IntegerType, false), true);

    private static Path config;
    private static Map<Long, int[]> sequences;

    @BeforeAll
    static void setUp() throws Exception {
        config = dir.resolve("config.json");
        LongNetConfig.of(VOCAB, 16, 2, 2, 32, "8:1,16:2,32:4").write(config);
        // Sequences with a pattern to learn: each repeats a short seeded phrase, with a little noise.
        long seed = 0x7EA1L;
        System.out.println("seed " + seed);
        SplittableRandom rnd = new SplittableRandom(seed);
        int[] phrase = rnd.ints(6, 1, VOCAB).toArray();
        sequences = new TreeMap<>();
        for (long id = 0; id < 8; id++) {
            int[] ids = new int[64 + (int) id * 3];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = rnd.nextInt(10) == 0 ? rnd.nextInt(VOCAB) : phrase[(i + (int) id) % phrase.length];
            }
            sequences.put(id, ids);
        }
    }

    /** The sequences in blocks of {@link #B}, token ids in column {@code ids}, rows over 3 partitions. */
    private static Dataset<Row> blocks() {
        List<Row> rows = new ArrayList<>();
        sequences.forEach((id, ids) -> {
            for (int at = 0, b = 0; at < ids.length; at += B, b++) {
                int[] part = Arrays.copyOfRange(ids, at, Math.min(ids.length, at + B));
                rows.add(RowFactory.create(id, (long) b, Arrays.stream(part).boxed().toArray(Integer[]::new)));
            }
        });
        return SPARK.session().createDataFrame(rows, BLOCKS).repartition(3);
    }

    private static LongNetTrainer trainer(Path out) {
        return new LongNetTrainer().setConfigPath(config.toString()).setModelPath(out.toString()).setTokensCol("ids")
                .setSteps(12).setSeqLen(32).setBatch(4).setLearningRate(3e-3).setWarmupSteps(2).setSeed(7)
                .setCheckpointEvery(5);
    }

    @Test
    void fitTrainsAndItsScorerScoresLikeLongnetScore() throws Exception {
        Path out = dir.resolve("fitted");
        LongNetTrainer trainer = trainer(out);
        Dataset<Row> in = blocks();
        LongNetScorer fitted = trainer.fit(in);
        assertEquals(out.toString(), fitted.getModelPath());
        assertSame(trainer, fitted.parent());
        assertEquals(trainer.uid(), fitted.uid());

        List<String> log = Files.readAllLines(out.resolve(LongNetTraining.LOG), StandardCharsets.UTF_8);
        assertEquals(13, log.size(), "a header and 12 steps: " + log);
        double first = Double.parseDouble(log.get(1).split(",")[1]);
        double last = Double.parseDouble(log.get(12).split(",")[1]);
        assertTrue(last < first - 0.3, "training lowers the loss: step 1 " + first + ", step 12 " + last);
        assertTrue(Files.isDirectory(out.resolve(LongNetTraining.CHECKPOINTS))
                && Files.exists(out.resolve(LongNetTraining.REPORT)));

        // longnet score's path on the saved model: TokenSequences of the dataset, then per-sequence totals.
        LongNetModel model = LongNetModel.load(out);
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(SPARK.session().sparkContext());
        Dataset<Row> rows = in.select(functions.col("seq_id"), functions.col("block"), functions.col("ids").as("tokens"));
        Dataset<Row> expected = LongNetScorer.perSequence(SPARK.session(),
                new TokenSequences(rows, B, model.config(), 0, Backend.AUTO).nextTokenLogProbs(jsc, model, 0), "");
        Dataset<Row> got = fitted.transform(in);
        assertEquals(LongNetScorer.SCHEMA, got.schema());
        Map<Long, Row> want = byId(expected);
        Map<Long, Row> have = byId(got);
        assertEquals(sequences.keySet(), have.keySet());
        for (Map.Entry<Long, int[]> e : sequences.entrySet()) {
            assertEquals(want.get(e.getKey()), have.get(e.getKey()), "sequence " + e.getKey());
            // And the single-process model's log-likelihood, summed in float64.
            float[] lp;
            try (CpuAttentionKernel kernel = new CpuAttentionKernel(1)) {
                lp = model.nextTokenLogProbs(e.getValue(), kernel);
            }
            double sum = 0;
            for (float v : lp) {
                sum += v;
            }
            double ll = have.get(e.getKey()).getDouble(3);
            assertEquals(sum, ll, 1e-5 * Math.abs(sum), "log-likelihood of sequence " + e.getKey());
        }
    }

    private static Map<Long, Row> byId(Dataset<Row> scores) {
        Map<Long, Row> m = new HashMap<>();
        for (Row r : scores.collectAsList()) {
            m.put(r.getLong(0), r);
        }
        return m;
    }

    @Test
    void paramsPersistAndBadOnesFailBeforeAnyWork() throws Exception {
        LongNetTrainer trainer = trainer(dir.resolve("never"));
        String saved = dir.resolve("trainer").toString();
        trainer.write().overwrite().save(saved);
        LongNetTrainer back = LongNetTrainer.load(saved);
        assertEquals(trainer.uid(), back.uid());
        assertEquals(trainer.settings(), back.settings());
        assertEquals(0.1, back.getValidationFraction());

        StructType schema = blocks().schema();
        IllegalArgumentException noOut = assertThrows(IllegalArgumentException.class,
                () -> new LongNetTrainer().setConfigPath(config.toString()).transformSchema(schema));
        assertTrue(noOut.getMessage().contains("modelPath"), noOut.getMessage());
        IllegalArgumentException steps = assertThrows(IllegalArgumentException.class,
                () -> trainer(dir.resolve("never")).setSteps(0).transformSchema(schema));
        assertTrue(steps.getMessage().contains("steps must be >= 1"), steps.getMessage());
        IllegalArgumentException column = assertThrows(IllegalArgumentException.class,
                () -> trainer(dir.resolve("never")).setTokensCol("tokens").transformSchema(schema));
        assertTrue(column.getMessage().contains("'tokens'"), column.getMessage());
        IllegalArgumentException both = assertThrows(IllegalArgumentException.class,
                () -> trainer(dir.resolve("never")).setInitModelPath(dir.toString()).fit(blocks()));
        assertTrue(both.getMessage().contains("not both"), both.getMessage());
        assertTrue(!Files.exists(dir.resolve("never")), "nothing written");
    }
}
