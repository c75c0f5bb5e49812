package io.longnet.jobs;

import io.longnet.attention.Backend;
import io.longnet.storage.BlockColumns;
import io.longnet.storage.AtomicOutput;
import io.longnet.storage.HadoopFiles;
import io.longnet.storage.SerializableHadoopConf;
import io.longnet.datasets.BlockManifest;
import io.longnet.model.LongNetConfig;
import io.longnet.model.LongNetModel;
import io.longnet.spark.SequenceSlice;
import io.longnet.spark.TokenSequences;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.ipc.ArrowFileWriter;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * {@code longnet encode}: contextual embeddings of every sequence of a token dataset: the final features
 * (all layers and the final LayerNorm) or, with {@code --layer K}, the hidden states after K layers (0: the
 * embeddings). Written in the block layout ({@code seq_id, block, hidden binary}, B x d_model little-endian
 * float32, the token dataset's B) with a {@link BlockManifest}; with {@code --arrow}, also as Arrow IPC
 * files, one row per position ({@code seq_id int64, position int64, hidden fixed_size_list<float32>[d_model]}),
 * which pyarrow reads directly ({@code pyarrow.dataset.dataset(OUT + "/_arrow", format="arrow")}).
 * <p>
 * The Arrow files sit in {@code OUT/_arrow}: inside the one output, so they are committed with the Parquet
 * files or not at all, and under a name starting with {@code _}, which Spark's and pyarrow's Parquet readers
 * skip, as they skip the manifest; {@code pyarrow.parquet.read_table(OUT)} reads the blocks alone.
 */
final class EncodeJob {

    /** The Arrow files' folder inside the output. */
    static final String ARROW_DIR = "_arrow";

    static final StructType BLOCKS = new StructType()
            .add(BlockColumns.SEQ_ID, DataTypes.LongType, false)
            .add(BlockColumns.BLOCK, DataTypes.LongType, false)
            .add(BlockColumns.HIDDEN, DataTypes.BinaryType, false);

    record Request(String tokens, String model, String out, Integer layer, boolean arrow, int partitionLength,
                   Backend backend, int checkpointEvery, String checkpointDir, boolean overwrite)
            implements ModelJobInputs.Request {
    }

    private EncodeJob() {
    }

    static long run(SparkSession spark, Request r, PrintStream out) throws IOException {
        return ModelJobInputs.run(spark, r, in -> run(spark, r, out, in));
    }

    private static long run(SparkSession spark, Request r, PrintStream out, ModelJobInputs in) throws IOException {
        LongNetModel model = in.model();
        LongNetConfig config = model.config();
        int layers = config.layers();
        if (r.layer() != null && (r.layer() < 0 || r.layer() > layers)) {
            throw new IllegalArgumentException("--layer " + r.layer() + ": the model has layers 0 (embeddings) to " + layers);
        }
        int blockSize = in.manifest().blockSize();
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        jsc.setJobDescription("longnet encode " + r.tokens());
        TokenSequences sequences = in.sequences();
        out.println("encode: " + (r.layer() == null ? "final features" : "hidden states after layer " + r.layer())
                + " of " + sequences.describe());
        JavaRDD<SequenceSlice> encoded = sequences.hidden(jsc, model, r.layer() == null ? -1 : r.layer(),
                r.checkpointEvery());
        write(spark, encoded.cache(), r, config, blockSize, sequences.tokens());
        ModelJobInputs.printRanOn(sequences, out);
        out.printf(Locale.ROOT, "done: %d tokens in %.2f s; wrote %s%n", sequences.tokens(), in.seconds(),
                r.out());
        return sequences.tokens();
    }

    private static void write(SparkSession spark, JavaRDD<SequenceSlice> encoded, Request r, LongNetConfig config,
                              int blockSize, long tokens) throws IOException {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        int d = config.dModel();
        try (AtomicOutput output = AtomicOutput.begin(r.out(), conf, r.overwrite())) {
            org.apache.hadoop.fs.Path tmp = output.temporary();
            JavaRDD<Row> rows = encoded.flatMap(e -> {
                List<Row> out = new ArrayList<>();
                for (SequenceSlice b : e.byBlock(blockSize, d)) {
                    ByteBuffer bytes = ByteBuffer.allocate(b.values().length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
                    bytes.asFloatBuffer().put(b.values());
                    out.add(RowFactory.create(b.seqId(), b.start() / blockSize, bytes.array()));
                }
                return out.iterator();
            });
            spark.createDataFrame(rows, BLOCKS).write().parquet(tmp.toString());
            Map<String, String> properties = new LinkedHashMap<>();
            properties.put("longnet.source", r.tokens());
            properties.put("longnet.model", r.model());
            properties.put("longnet.layer", r.layer() == null ? "final" : r.layer().toString());
            properties.put("longnet.n", "sum of the token dataset's sequence lengths");
            new BlockManifest(tokens, config.heads(), config.dModel() / config.heads(), blockSize,
                    Map.of("hidden", d), properties).write(tmp.toString(), conf);
            if (r.arrow()) {
                writeArrow(encoded, new org.apache.hadoop.fs.Path(tmp, ARROW_DIR).toString(), d, new SerializableHadoopConf(conf));
            }
            output.commit();
        } finally {
            encoded.unpersist();
        }
    }

    /** One Arrow IPC file per task: a row per position, the hidden state as a fixed-size list. */
    private static void writeArrow(JavaRDD<SequenceSlice> encoded, String dir, int d, SerializableHadoopConf conf) {
        encoded.foreachPartition(parts -> {
            org.apache.hadoop.fs.Path file = new org.apache.hadoop.fs.Path(dir,
                    String.format("part-%05d.arrow", TaskContext.getPartitionId()));
            FileSystem fs = HadoopFiles.withoutChecksums(file.getFileSystem(conf.get()));
            Field hidden = new Field("hidden", FieldType.notNullable(new ArrowType.FixedSizeList(d)),
                    List.of(new Field("value", FieldType.notNullable(new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE)), null)));
            org.apache.arrow.vector.types.pojo.Schema schema = new org.apache.arrow.vector.types.pojo.Schema(List.of(
                    new Field(BlockColumns.SEQ_ID, FieldType.notNullable(new ArrowType.Int(64, true)), null),
                    new Field("position", FieldType.notNullable(new ArrowType.Int(64, true)), null), hidden));
            try (BufferAllocator allocator = new RootAllocator();
                 VectorSchemaRoot root = VectorSchemaRoot.create(schema, allocator);
                 OutputStream os = fs.create(file, true);
                 ArrowFileWriter writer = new ArrowFileWriter(root, null, Channels.newChannel(os))) {
                writer.start();
                BigIntVector seq = (BigIntVector) root.getVector(BlockColumns.SEQ_ID);
                BigIntVector pos = (BigIntVector) root.getVector("position");
                FixedSizeListVector list = (FixedSizeListVector) root.getVector("hidden");
                Float4Vector values = (Float4Vector) list.getDataVector();
                while (parts.hasNext()) {
                    SequenceSlice e = parts.next();
                    root.allocateNew();
                    for (int i = 0; i < e.length(); i++) {
                        seq.setSafe(i, e.seqId());
                        pos.setSafe(i, e.start() + i);
                        list.setNotNull(i);
                        for (int c = 0; c < d; c++) {
                            values.setSafe(i * d + c, e.values()[i * d + c]);
                        }
                    }
                    values.setValueCount(e.length() * d);
                    root.setRowCount(e.length());
                    writer.writeBatch();
                }
                writer.end();
            }
        });
    }
}
