package io.longnet.spark.ml;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.attention.AttentionResult;
import io.longnet.attention.CpuAttentionKernel;
import io.longnet.attention.DilatedAttentionConfig;
import io.longnet.attention.Tensors;
import io.longnet.spark.SparkSessionExtension;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@link DilatedAttention} against the single-process CPU kernel, persistence, and schema checks. */
class DilatedAttentionTest {

    @RegisterExtension
    static SparkSessionExtension spark = new SparkSessionExtension();

    private static final int HEADS = 2;
    private static final int D = 4;
    private static final int B = 4;
    private static final StructType INPUT = DataTypes.createStructType(List.of(
            DataTypes.createStructField("seq_id", DataTypes.LongType, false),
            DataTypes.createStructField("block", DataTypes.LongType, false),
            DataTypes.createStructField("q", DataTypes.BinaryType, false),
            DataTypes.createStructField("k", DataTypes.BinaryType, false),
            DataTypes.createStructField("v", DataTypes.BinaryType, false)));

    /** One sequence of the input: its id and q, k, v in [N][H][d] order. */
    private record Sequence(long id, int n, float[] q, float[] k, float[] v) {
    }

    private static List<Sequence> sequences(long seed, int... lengths) {
        System.out.println("seed " + seed);
        SplittableRandom rnd = new SplittableRandom(seed);
        List<Sequence> out = new ArrayList<>();
        for (int i = 0; i < lengths.length; i++) {
            int size = lengths[i] * HEADS * D;
            out.add(new Sequence(10 + i, lengths[i], Tensors.random(rnd, size, 1), Tensors.random(rnd, size, 1),
                    Tensors.random(rnd, size, 1)));
        }
        return out;
    }

    private static Dataset<Row> blocks(List<Sequence> sequences) {
        int width = HEADS * D;
        List<Row> rows = new ArrayList<>();
        for (Sequence s : sequences) {
            for (int at = 0, block = 0; at < s.n(); at += B, block++) {
                int positions = Math.min(B, s.n() - at);
                rows.add(RowFactory.create(s.id(), (long) block, bytes(s.q(), at * width, positions * width),
                        bytes(s.k(), at * width, positions * width), bytes(s.v(), at * width, positions * width)));
            }
        }
        return spark.session().createDataFrame(rows, INPUT).repartition(3);
    }

    private static byte[] bytes(float[] a, int from, int count) {
        ByteBuffer out = ByteBuffer.allocate(count * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        out.asFloatBuffer().put(a, from, count);
        return out.array();
    }

    /** Reassembles column {@code col} of sequence {@code id} (blocks of {@code perPosition * B} floats). */
    private static float[] gather(List<Row> rows, long id, String col, int n, int perPosition) {
        float[] out = new float[n * perPosition];
        int seen = 0;
        for (Row r : rows) {
            if (r.getLong(r.fieldIndex("seq_id")) != id) {
                continue;
            }
            byte[] b = (byte[]) r.get(r.fieldIndex(col));
            int at = (int) r.getLong(r.fieldIndex("block")) * B;
            assertEquals(Math.min(B, n - at) * perPosition * Float.BYTES, b.length, "block size of " + col);
            ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out, at * perPosition,
                    b.length / Float.BYTES);
            seen++;
        }
        assertEquals((n + B - 1) / B, seen, "blocks of sequence " + id);
        return out;
    }

    private static void assertMatchesEngine(DilatedAttention stage, List<Sequence> sequences, Dataset<Row> out) {
        List<Row> rows = out.collectAsList();
        DilatedAttentionConfig config = stage.config();
        try (CpuAttentionKernel kernel = new CpuAttentionKernel(1)) {
            for (Sequence s : sequences) {
                AttentionResult expected = kernel.forward(config, s.q(), s.k(), s.v());
                double oErr = Tensors.relativeError(gather(rows, s.id(), stage.getOutputCol(), s.n(), HEADS * D),
                        expected.oArray());
                assertTrue(oErr < 1e-5, "sequence " + s.id() + ": o relative error " + oErr);
                if (!stage.getLseCol().isEmpty()) {
                    double lseErr = Tensors.relativeError(gather(rows, s.id(), stage.getLseCol(), s.n(), HEADS),
                            expected.lseArray());
                    assertTrue(lseErr < 1e-5, "sequence " + s.id() + ": lse relative error " + lseErr);
                }
            }
        }
    }

    @ParameterizedTest(name = "branches {0}, L {1}, causal {2}")
    @CsvSource({
        "'8:1,16:2,32:4', 8, false",
        "'8:1,16:2,32:4', 8, true",
        "'8:1,16:2', 0, false",
        "'8:1,16:2', 0, true",
        "'4:1,8:2,16:4', 4, true",
    })
    void equalsSingleProcessKernel(String branches, int partitionLength, boolean causal) {
        List<Sequence> seqs = sequences(0x5eedL + partitionLength + (causal ? 1 : 0), 37, 50);
        DilatedAttention stage = new DilatedAttention().setBranches(branches).setHeads(HEADS).setHeadDim(D)
                .setCausal(causal).setPartitionLength(partitionLength).setBackend("cpu").setLseCol("lse");
        Dataset<Row> out = stage.transform(blocks(seqs));
        assertEquals(stage.transformSchema(INPUT), out.schema());
        assertMatchesEngine(stage, seqs, out);
    }

    @Test
    void renamedColumnsAndNoLse() {
        List<Sequence> seqs = sequences(77, 21);
        Dataset<Row> in = blocks(seqs).withColumnRenamed("q", "query").withColumnRenamed("k", "key")
                .withColumnRenamed("v", "value");
        DilatedAttention stage = new DilatedAttention().setQCol("query").setKCol("key").setVCol("value")
                .setOutputCol("attended").setBranches("8:1,16:4").setHeads(HEADS).setHeadDim(D)
                .setPartitionLength(8).setBackend("cpu");
        Dataset<Row> out = stage.transform(in);
        assertEquals(List.of("seq_id", "block", "attended"), List.of(out.columns()));
        assertMatchesEngine(stage, seqs, out);
    }

    @Test
    void saveLoadKeepsParamsAndResult(@TempDir Path dir) throws Exception {
        DilatedAttention stage = new DilatedAttention().setBranches("8:1,16:2,32:4").setHeads(HEADS).setHeadDim(D)
                .setCausal(true).setPartitionLength(8).setBackend("cpu").setLseCol("lse").setOutputCol("out")
                .setQCol("q").setKCol("k").setVCol("v");
        String path = dir.resolve("stage").toString();
        stage.write().save(path);
        DilatedAttention loaded = DilatedAttention.load(path);
        assertEquals(stage.uid(), loaded.uid());
        assertEquals(stage.extractParamMap().toString(), loaded.extractParamMap().toString());
        assertEquals("8:1,16:2,32:4", loaded.getBranches());
        assertEquals(HEADS, loaded.getHeads());
        assertEquals(D, loaded.getHeadDim());
        assertTrue(loaded.getCausal());
        assertEquals(8, loaded.getPartitionLength());
        assertEquals("cpu", loaded.getBackend());
        assertEquals("lse", loaded.getLseCol());
        assertEquals("out", loaded.getOutputCol());

        List<Sequence> seqs = sequences(4242, 29, 40);
        Dataset<Row> in = blocks(seqs);
        List<Row> a = stage.transform(in).orderBy("seq_id", "block").collectAsList();
        List<Row> b = loaded.transform(in).orderBy("seq_id", "block").collectAsList();
        assertEquals(a.size(), b.size());
        for (int i = 0; i < a.size(); i++) {
            assertEquals(a.get(i).getLong(0), b.get(i).getLong(0));
            assertEquals(a.get(i).getLong(1), b.get(i).getLong(1));
            assertTrue(java.util.Arrays.equals((byte[]) a.get(i).get(2), (byte[]) b.get(i).get(2)), "row " + i);
        }
        assertMatchesEngine(loaded, seqs, loaded.transform(in));
    }

    @Test
    void copyKeepsParamsAndAppliesExtra() {
        DilatedAttention stage = new DilatedAttention().setBranches("8:1,16:2").setHeads(3);
        DilatedAttention copy = stage.copy(new org.apache.spark.ml.param.ParamMap().put(stage.causal(), true));
        assertEquals(stage.uid(), copy.uid());
        assertEquals(3, copy.getHeads());
        assertTrue(copy.getCausal());
        assertEquals(false, stage.getCausal());
    }

    private static String schemaError(DilatedAttention stage, StructType schema) {
        return assertThrows(IllegalArgumentException.class, () -> stage.transformSchema(schema)).getMessage();
    }

    @Test
    void schemaErrorsSayWhatToFix() {
        DilatedAttention stage = new DilatedAttention().setBranches("8:1,16:2").setHeads(HEADS).setHeadDim(D);
        String missing = schemaError(stage, DataTypes.createStructType(List.of(INPUT.apply("seq_id"),
                INPUT.apply("block"), INPUT.apply("q"), INPUT.apply("v"))));
        assertTrue(missing.contains("input column 'k' (binary) is missing"), missing);

        StructType intBlock = DataTypes.createStructType(List.of(INPUT.apply("seq_id"),
                DataTypes.createStructField("block", DataTypes.IntegerType, false), INPUT.apply("q"),
                INPUT.apply("k"), INPUT.apply("v")));
        String wrongType = schemaError(stage, intBlock);
        assertTrue(wrongType.contains("'block' has type int, expected bigint"), wrongType);

        String exists = schemaError(stage, INPUT.add("o", DataTypes.BinaryType));
        assertTrue(exists.contains("output column 'o' already exists"), exists);

        String badBranch = schemaError(new DilatedAttention().setBranches("8:1,16"), INPUT);
        assertTrue(badBranch.contains("param branches: branch '16': expected segment:dilation"), badBranch);
        String badDilation = schemaError(new DilatedAttention().setBranches("8:1,4:8"), INPUT);
        assertTrue(badDilation.contains("branch 4:8: dilation 8 exceeds segment length 4"), badDilation);
        String badLength = schemaError(new DilatedAttention().setBranches("8:1,16:2").setPartitionLength(12), INPUT);
        assertTrue(badLength.contains("partition length 12 does not fit branch"), badLength);
        String badBackend = schemaError(new DilatedAttention().setBackend("tpu"), INPUT);
        assertTrue(badBackend.contains("expected auto, cpu or gpu"), badBackend);
    }

    @Test
    void partitionLengthMustBeAMultipleOfTheBlockSize() {
        DilatedAttention stage = new DilatedAttention().setBranches("2:1").setHeads(HEADS).setHeadDim(D)
                .setPartitionLength(2).setBackend("cpu");
        Dataset<Row> in = blocks(sequences(9, 12));
        String message = assertThrows(IllegalArgumentException.class, () -> stage.transform(in)).getMessage();
        assertTrue(message.contains("not a multiple of the data's block size 4"), message);
    }

    @Test
    void emptyInputGivesEmptyOutput() {
        DilatedAttention stage = new DilatedAttention().setBranches("8:1").setHeads(HEADS).setHeadDim(D);
        Dataset<Row> out = stage.transform(blocks(sequences(1, 8)).filter(functions.lit(false)));
        assertEquals(0, out.count());
        assertEquals(stage.transformSchema(INPUT), out.schema());
    }
}
