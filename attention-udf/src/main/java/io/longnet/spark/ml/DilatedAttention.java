package io.longnet.spark.ml;

import io.longnet.attention.Backend;
import io.longnet.storage.BlockColumns;
import io.longnet.attention.Branch;
import io.longnet.attention.DilatedAttentionConfig;
import io.longnet.spark.AttentionPartition;
import io.longnet.spark.BlockRows;
import io.longnet.spark.PartitionIdPartitioner;
import io.longnet.spark.PartitionPlan;
import io.longnet.spark.QkvPartition;
import io.longnet.spark.SequenceParallelAttention;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.ml.Transformer;
import org.apache.spark.ml.param.BooleanParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.DefaultParamsWritable;
import org.apache.spark.ml.util.Identifiable$;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import scala.Tuple2;

/**
 * Dilated attention as a Spark ML {@link Transformer}: reads the block layout (columns {@code seq_id}
 * long, {@code block} long, and q, k, v as binary little-endian float32 rows of {@code B} positions x H x
 * d) and writes {@code seq_id}, {@code block}, o (and optionally lse, {@code B x H} floats) in the same
 * block size. Each sequence runs as one {@link SequenceParallelAttention#attend} job over the partitions
 * of its {@link PartitionPlan}; the driver only collects per-sequence lengths, never data. The input is
 * read once for the lengths and once per sequence, so cache it when it holds many sequences. The head
 * width d is the {@code headDim} param: the block bytes {@code B x H x d x 4} alone do not tell B from d.
 */
public final class DilatedAttention extends Transformer implements DefaultParamsWritable,
        HasOutputCol<DilatedAttention>, HasPartitionLength<DilatedAttention>, HasBackend<DilatedAttention> {

    private static final long serialVersionUID = 1L;

    /** Fixed names of the key columns of the block layout. */
    public static final String SEQ_ID = BlockColumns.SEQ_ID;
    public static final String BLOCK = BlockColumns.BLOCK;

    private final String uid;
    private final Param<String> qCol;
    private final Param<String> kCol;
    private final Param<String> vCol;
    private final Param<String> lseCol;
    private final Param<String> branches;
    private final IntParam heads;
    private final IntParam headDim;
    private final BooleanParam causal;

    public DilatedAttention() {
        this(Identifiable$.MODULE$.randomUID("dilatedAttention"));
    }

    public DilatedAttention(String uid) {
        this.uid = uid;
        qCol = new Param<>(this, "qCol", "column of query blocks (binary, little-endian float32, B x H x d)");
        kCol = new Param<>(this, "kCol", "column of key blocks (binary, little-endian float32, B x H x d)");
        vCol = new Param<>(this, "vCol", "column of value blocks (binary, little-endian float32, B x H x d)");
        lseCol = new Param<>(this, "lseCol",
                "column to write log-sum-exp blocks to (binary, float32, B x H); empty: not written");
        branches = new Param<>(this, "branches",
                "comma-separated segment:dilation pairs, e.g. 2048:1,4096:2,8192:4");
        heads = new IntParam(this, "heads", "number of heads H (>= 1)");
        headDim = new IntParam(this, "headDim", "head width d (>= 1); blocks hold B x H x d floats");
        causal = new BooleanParam(this, "causal", "whether a query attends only to keys at or before it");
        setDefault(qCol, "q");
        setDefault(kCol, "k");
        setDefault(vCol, "v");
        setDefault(outputCol(), "o");
        setDefault(lseCol, "");
        setDefault(branches, "2048:1");
        setDefault(heads, 8);
        setDefault(headDim, 64);
        setDefault(causal, false);
        declarePartitionLength();
        declareBackend();
    }

    @Override
    public String uid() {
        return uid;
    }

    public Param<String> qCol() {
        return qCol;
    }

    public Param<String> kCol() {
        return kCol;
    }

    public Param<String> vCol() {
        return vCol;
    }

    public Param<String> lseCol() {
        return lseCol;
    }

    public Param<String> branches() {
        return branches;
    }

    public IntParam heads() {
        return heads;
    }

    public IntParam headDim() {
        return headDim;
    }

    public BooleanParam causal() {
        return causal;
    }

    public String getQCol() {
        return $(qCol);
    }

    public String getKCol() {
        return $(kCol);
    }

    public String getVCol() {
        return $(vCol);
    }

    public String getLseCol() {
        return $(lseCol);
    }

    public String getBranches() {
        return $(branches);
    }

    public int getHeads() {
        return (Integer) $(heads);
    }

    public int getHeadDim() {
        return (Integer) $(headDim);
    }

    public boolean getCausal() {
        return (Boolean) $(causal);
    }

    public DilatedAttention setQCol(String value) {
        return setParam(qCol, value);
    }

    public DilatedAttention setKCol(String value) {
        return setParam(kCol, value);
    }

    public DilatedAttention setVCol(String value) {
        return setParam(vCol, value);
    }

    public DilatedAttention setLseCol(String value) {
        return setParam(lseCol, value);
    }

    public DilatedAttention setBranches(String value) {
        return setParam(branches, value);
    }

    public DilatedAttention setHeads(int value) {
        return setParam(heads, value);
    }

    public DilatedAttention setHeadDim(int value) {
        return setParam(headDim, value);
    }

    public DilatedAttention setCausal(boolean value) {
        return setParam(causal, value);
    }

    /** The attention config these params describe; throws {@link IllegalArgumentException} if invalid. */
    public DilatedAttentionConfig config() {
        List<Branch> parsed;
        try {
            parsed = Branch.parseList(getBranches());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("param branches: " + e.getMessage(), e);
        }
        return DilatedAttentionConfig.of(parsed, getHeads(), getHeadDim(), getCausal());
    }

    @Override
    public StructType transformSchema(StructType schema) {
        DilatedAttentionConfig config = config();
        validateBackend();
        validatePartitionLength(config);
        String castHint = " (cast it with .cast(\"long\"))";
        StageColumns.requireColumn(schema, SEQ_ID, DataTypes.LongType, castHint);
        StageColumns.requireColumn(schema, BLOCK, DataTypes.LongType, castHint);
        StageColumns.requireColumn(schema, getQCol(), DataTypes.BinaryType, "");
        StageColumns.requireColumn(schema, getKCol(), DataTypes.BinaryType, "");
        StageColumns.requireColumn(schema, getVCol(), DataTypes.BinaryType, "");
        String out = getOutputCol();
        String lse = getLseCol();
        if (out.isEmpty()) {
            throw new IllegalArgumentException("param outputCol must not be empty");
        }
        // The output replaces the input's columns, so an output named like a q/k/v input column is allowed.
        StageColumns.requireNewOutputs(schema, lse.isEmpty() ? List.of(out) : List.of(out, lse),
                List.of(SEQ_ID, BLOCK), List.of(getQCol(), getKCol(), getVCol()));
        if (out.equals(lse)) {
            throw new IllegalArgumentException("outputCol and lseCol are both '" + out + "'");
        }
        List<StructField> fields = new ArrayList<>();
        fields.add(DataTypes.createStructField(SEQ_ID, DataTypes.LongType, false));
        fields.add(DataTypes.createStructField(BLOCK, DataTypes.LongType, false));
        fields.add(DataTypes.createStructField(out, DataTypes.BinaryType, false));
        if (!lse.isEmpty()) {
            fields.add(DataTypes.createStructField(lse, DataTypes.BinaryType, false));
        }
        return DataTypes.createStructType(fields);
    }

    @Override
    public Dataset<Row> transform(Dataset<?> dataset) {
        StructType outSchema = transformSchema(dataset.schema());
        DilatedAttentionConfig config = config();
        SparkSession spark = dataset.sparkSession();
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        int width = config.rowWidth();
        long rowBytes = (long) width * Float.BYTES;
        Dataset<Row> input = dataset.select(functions.col(SEQ_ID), functions.col(BLOCK),
                functions.col(getQCol()).as("q"), functions.col(getKCol()).as("k"),
                functions.col(getVCol()).as("v"));

        // Plans need only lengths: one small aggregate per sequence reaches the driver, never data.
        jsc.setJobDescription("dilated attention: sequence lengths");
        List<Row> sequences = input.groupBy(SEQ_ID).agg(
                functions.count("*").as("blocks"),
                functions.max(BLOCK).as("last"),
                functions.min(BLOCK).as("first"),
                functions.sum(functions.length(functions.col("q"))).as("bytes"),
                functions.max(functions.length(functions.col("q"))).as("maxBytes"))
                .orderBy(SEQ_ID).collectAsList();
        if (sequences.isEmpty()) {
            jsc.setJobDescription(null);
            return spark.createDataFrame(List.of(), outSchema);
        }
        long maxBytes = 0;
        for (Row s : sequences) {
            maxBytes = Math.max(maxBytes, ((Number) s.get(5)).longValue());
        }
        if (maxBytes % rowBytes != 0) {
            throw new IllegalArgumentException("a q block holds " + maxBytes + " bytes, not a multiple of H * d * 4 = "
                    + rowBytes + " (heads " + config.heads() + ", headDim " + config.headDim()
                    + "): check the heads and headDim params");
        }
        int blockSize = (int) (maxBytes / rowBytes);
        List<JavaRDD<Row>> outputs = new ArrayList<>();
        boolean withLse = !getLseCol().isEmpty();
        for (Row s : sequences) {
            long seqId = s.getLong(0);
            long blocks = s.getLong(1);
            if (s.getLong(3) != 0 || s.getLong(2) != blocks - 1) {
                throw new IllegalArgumentException("sequence " + seqId + " has " + blocks + " block rows numbered "
                        + s.getLong(3) + ".." + s.getLong(2) + ": expected blocks 0.." + (blocks - 1)
                        + ", each once");
            }
            long bytes = ((Number) s.get(4)).longValue();
            long n = bytes / rowBytes;
            if (bytes % rowBytes != 0 || (n + blockSize - 1) / blockSize != blocks) {
                throw new IllegalArgumentException("sequence " + seqId + " holds " + bytes + " bytes of q in "
                        + blocks + " blocks: expected full blocks of " + blockSize + " positions x H x d x 4 = "
                        + blockSize * rowBytes + " bytes, only the last one shorter");
            }
            PartitionPlan plan = plan(spark.sparkContext(), config, n, blockSize);
            outputs.add(attendSequence(jsc, input, plan, seqId, blockSize, withLse, parsedBackend()));
        }
        jsc.setJobDescription(null);
        JavaRDD<Row> all = outputs.size() == 1 ? outputs.get(0)
                : jsc.union(outputs.toArray(new JavaRDD[0]));
        return spark.createDataFrame(all, outSchema);
    }

    private PartitionPlan plan(SparkContext sc, DilatedAttentionConfig config, long n, int blockSize) {
        PartitionPlan plan = PartitionPlan.forAttention(sc, parsedBackend(), config, n, getPartitionLength());
        if (plan.partitionLength() % blockSize != 0) {
            throw new IllegalArgumentException("partition length " + plan.partitionLength()
                    + (getPartitionLength() == 0 ? " (chosen)" : "") + " is not a multiple of the data's block size "
                    + blockSize + ": set partitionLength to a multiple of " + blockSize
                    + " that divides or is a multiple of every segment length of " + config.branches());
        }
        return plan;
    }

    private static JavaRDD<Row> attendSequence(JavaSparkContext jsc, Dataset<Row> input, PartitionPlan plan,
                                               long seqId, int blockSize, boolean withLse, Backend backend) {
        int perPartition = plan.partitionLength() / blockSize;
        int width = plan.config().rowWidth();
        int heads = plan.config().heads();
        String name = "dilated attention: sequence " + seqId + " (" + plan.describe() + ")";
        jsc.setJobDescription(name);
        JavaRDD<QkvPartition> qkv = input.filter(functions.col(SEQ_ID).equalTo(seqId)).javaRDD()
                .mapToPair(r -> new Tuple2<>((int) (r.getLong(1) / perPartition), r))
                .partitionBy(new PartitionIdPartitioner(plan.partitions()))
                .mapPartitionsWithIndex((p, rows) -> {
                    List<Row> mine = new ArrayList<>();
                    rows.forEachRemaining(t -> mine.add(t._2()));
                    return List.of(BlockRows.assemble("sequence " + seqId, plan, p, blockSize, width, mine)).iterator();
                }, true)
                .setName("blocks of sequence " + seqId);
        JavaRDD<AttentionPartition> attended = SequenceParallelAttention.attend(qkv, plan, backend);
        return attended.flatMap(a -> BlockRows.split(a, seqId, blockSize, width, heads, withLse).iterator())
                .setName("o blocks of sequence " + seqId);
    }

    @Override
    public DilatedAttention copy(ParamMap extra) {
        return defaultCopy(extra);
    }

    /** Reader for {@link #load(String)}; the params are read back as written. */
    public static MLReader<DilatedAttention> read() {
        return new DefaultParamsReader<>();
    }

    /** Loads a stage written with {@code write().save(path)}. */
    public static DilatedAttention load(String path) {
        return read().load(path);
    }
}
