package io.longnet.spark.ml;

import io.longnet.attention.Backend;
import io.longnet.model.LongNetConfig;
import io.longnet.model.LongNetModel;
import io.longnet.spark.PartitionPlan;
import io.longnet.spark.TokenSequences;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.ml.Model;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.util.DefaultParamsWritable;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * What {@link LongNetEncoder} and {@link LongNetScorer} share: a LongNet model directory, the token block
 * input ({@code seq_id long, block long}, and a tokens column of {@code array<int>}, as {@code longnet
 * tokenize} writes it; see {@link TokenSequences} for the layout), and how long sequences are cut for the
 * sequence-parallel plan. Sequences that fit one partition run whole inside a task; longer ones through
 * the sequence-parallel model, one Spark job each. Stages are MLlib {@link Model}s so that
 * {@link LongNetTrainer#fit} can return a scorer of the model it trained.
 *
 * @param <S> the stage itself, so that the setters chain
 */
public abstract sealed class LongNetModelStage<S extends LongNetModelStage<S>> extends Model<S>
        implements DefaultParamsWritable permits LongNetEncoder, LongNetScorer {

    private static final long serialVersionUID = 1L;

    /** Fixed names of the key columns of the block layout. */
    public static final String SEQ_ID = "seq_id";
    public static final String BLOCK = "block";

    private final String uid;
    private final Param<String> modelPath;
    private final Param<String> tokensCol;
    private final IntParam partitionLength;
    private final Param<String> backend;
    private final IntParam checkpointEvery;

    LongNetModelStage(String uid) {
        this.uid = uid;
        modelPath = new Param<>(this, "modelPath", "local directory of a LongNet model (config.json and"
                + " model.safetensors, e.g. from longnet init-model), read on the driver");
        tokensCol = new Param<>(this, "tokensCol", "column of token ids (array<int>), a block of B positions per"
                + " row beside seq_id and block");
        partitionLength = new IntParam(this, "partitionLength", "positions per Spark partition for sequences"
                + " longer than one (a multiple of the block size B that divides or is a multiple of every"
                + " segment length); 0: chosen");
        backend = new Param<>(this, "backend", "attention backend: auto, cpu or gpu");
        checkpointEvery = new IntParam(this, "checkpointEvery", "checkpoint the hidden states of sequence-parallel"
                + " sequences every this many layers (needs SparkContext.setCheckpointDir); 0: never");
        setDefault(modelPath, "");
        setDefault(tokensCol, "tokens");
        setDefault(partitionLength, 0);
        setDefault(backend, "auto");
        setDefault(checkpointEvery, 0);
    }

    @SuppressWarnings("unchecked")
    private S self() {
        return (S) this;
    }

    @Override
    public String uid() {
        return uid;
    }

    public Param<String> modelPath() {
        return modelPath;
    }

    public Param<String> tokensCol() {
        return tokensCol;
    }

    public IntParam partitionLength() {
        return partitionLength;
    }

    public Param<String> backend() {
        return backend;
    }

    public IntParam checkpointEvery() {
        return checkpointEvery;
    }

    public String getModelPath() {
        return $(modelPath);
    }

    public String getTokensCol() {
        return $(tokensCol);
    }

    public int getPartitionLength() {
        return (Integer) $(partitionLength);
    }

    public String getBackend() {
        return $(backend);
    }

    public int getCheckpointEvery() {
        return (Integer) $(checkpointEvery);
    }

    public S setModelPath(String value) {
        set(modelPath, value);
        return self();
    }

    public S setTokensCol(String value) {
        set(tokensCol, value);
        return self();
    }

    public S setPartitionLength(int value) {
        set(partitionLength, value);
        return self();
    }

    public S setBackend(String value) {
        set(backend, value);
        return self();
    }

    public S setCheckpointEvery(int value) {
        set(checkpointEvery, value);
        return self();
    }

    /** The model directory as a local path (a {@code file:} URI is accepted too). */
    private Path modelDir() {
        String path = getModelPath();
        if (path.isBlank()) {
            throw new IllegalArgumentException("param modelPath is not set: give the directory of a LongNet model"
                    + " (config.json and model.safetensors, e.g. from longnet init-model)");
        }
        return path.startsWith("file:") ? Path.of(URI.create(path)) : Path.of(path);
    }

    /** The model's config, read from {@code modelPath}; throws {@link IllegalArgumentException} when unreadable. */
    public LongNetConfig modelConfig() {
        Path file = modelDir().resolve(LongNetModel.CONFIG_FILE);
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("param modelPath: " + file + " does not exist; modelPath must name"
                    + " the directory of a LongNet model (config.json and model.safetensors)");
        }
        try {
            return LongNetConfig.read(file);
        } catch (IOException e) {
            throw new IllegalArgumentException("param modelPath: cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    /** Loads the model (config and weights) on the driver. */
    LongNetModel loadModel() {
        modelConfig();
        try {
            return LongNetModel.load(modelDir());
        } catch (IOException e) {
            throw new IllegalArgumentException("param modelPath: cannot load the model in " + modelDir() + ": "
                    + e.getMessage(), e);
        }
    }

    /**
     * Checks the shared params and input columns against the model's config; returns the config. Output
     * columns named in {@code outputs} must not exist in the input nor be a key column.
     */
    LongNetConfig validate(StructType schema, List<String> outputs) {
        LongNetConfig config = modelConfig();
        Backend.parse(getBackend());
        int length = getPartitionLength();
        if (length < 0) {
            throw new IllegalArgumentException("param partitionLength must be >= 0 (0: chosen), got " + length);
        }
        if (length > 0) {
            PartitionPlan.of(config.attentionConfig(), 1, length, PartitionPlan.DEFAULT_TASK_BYTES);
        }
        if (getCheckpointEvery() < 0) {
            throw new IllegalArgumentException("param checkpointEvery must be >= 0 (0: never), got "
                    + getCheckpointEvery());
        }
        String tokens = getTokensCol();
        checkBlockInput(schema, tokens);
        List<String> names = Arrays.asList(schema.fieldNames());
        for (String out : outputs) {
            if (out.isEmpty()) {
                throw new IllegalArgumentException("output column names must not be empty");
            }
            if (out.equals(SEQ_ID) || out.equals(BLOCK)) {
                throw new IllegalArgumentException("output column '" + out + "' clashes with a key column;"
                        + " choose another name");
            }
            if (names.contains(out) && !out.equals(tokens)) {
                throw new IllegalArgumentException("output column '" + out + "' already exists in the input ("
                        + String.join(", ", names) + "): choose another name or drop it first");
            }
        }
        return config;
    }

    /** Checks that {@code schema} has the block layout's key columns and an {@code array<int>} column {@code tokens}. */
    static void checkBlockInput(StructType schema, String tokens) {
        requireColumn(schema, SEQ_ID, DataTypes.LongType, " (cast it with .cast(\"long\"))");
        requireColumn(schema, BLOCK, DataTypes.LongType, " (cast it with .cast(\"long\"); a DataFrame of whole"
                + " sequences can use withColumn(\"block\", lit(0L)))");
        if (!Arrays.asList(schema.fieldNames()).contains(tokens)) {
            throw new IllegalArgumentException("input column '" + tokens + "' (array<int>) is missing; the input has "
                    + String.join(", ", schema.fieldNames()) + " (set tokensCol to the column of token ids)");
        }
        DataType type = schema.apply(tokens).dataType();
        if (!(type instanceof ArrayType a) || !a.elementType().equals(DataTypes.IntegerType)) {
            throw new IllegalArgumentException("input column '" + tokens + "' has type " + type.simpleString()
                    + ", expected array<int> (cast it with .cast(\"array<int>\"))");
        }
    }

    private static void requireColumn(StructType schema, String name, DataType type, String hint) {
        if (!Arrays.asList(schema.fieldNames()).contains(name)) {
            throw new IllegalArgumentException("input column '" + name + "' (" + type.simpleString()
                    + ") is missing; the input has " + String.join(", ", schema.fieldNames()));
        }
        DataType actual = schema.apply(name).dataType();
        if (!actual.equals(type)) {
            throw new IllegalArgumentException("input column '" + name + "' has type " + actual.simpleString()
                    + ", expected " + type.simpleString() + hint);
        }
    }

    /** The input's sequences, checked and planned (one small aggregate per sequence reaches the driver). */
    TokenSequences sequences(Dataset<?> dataset, LongNetModel model, String what) {
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(dataset.sparkSession().sparkContext());
        String description = jsc.getLocalProperty("spark.job.description");
        jsc.setJobDescription(what + ": sequence lengths");
        try {
            Dataset<Row> rows = dataset.select(functions.col(SEQ_ID), functions.col(BLOCK),
                    functions.col(getTokensCol()).as("tokens"));
            return new TokenSequences(rows, 0, model.config(), getPartitionLength());
        } finally {
            jsc.setJobDescription(description);
        }
    }
}
