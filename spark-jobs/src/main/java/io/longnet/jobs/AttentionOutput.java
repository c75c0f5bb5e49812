package io.longnet.jobs;

import io.longnet.storage.BlockColumns;
import io.longnet.tensors.DType;
import io.longnet.tensors.SafetensorsWriter;
import io.longnet.storage.AtomicOutput;
import io.longnet.storage.HadoopFiles;
import io.longnet.storage.SerializableHadoopConf;
import io.longnet.storage.HadoopSafetensors;
import io.longnet.datasets.BlockManifest;
import io.longnet.spark.AttentionPartition;
import io.longnet.spark.BlockRows;
import io.longnet.spark.PartitionPlan;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Writes {@code o} and {@code lse} atomically: everything goes to a hidden sibling of the output path
 * first and is renamed into place only when complete, so a failed job leaves nothing under the output.
 * <ul>
 *   <li>{@code *.safetensors}: tasks write their rows as part files; the driver then streams the parts,
 *       in order, into one file ({@code o} F32 {@code [N, H, d]}, {@code lse} F32 {@code [N, H]}).</li>
 *   <li>anything else: the Parquet block layout of docs/ARCHITECTURE.md §3, one row per block of positions:
 *       {@code seq_id long, block long, o binary, lse binary} (little-endian float32,
 *       {@code B * H * d} and {@code B * H} values), described by its {@link BlockManifest}.</li>
 * </ul>
 */
final class AttentionOutput {

    static final StructType PARQUET_SCHEMA = new StructType()
            .add(BlockColumns.SEQ_ID, DataTypes.LongType, false)
            .add(BlockColumns.BLOCK, DataTypes.LongType, false)
            .add("o", DataTypes.BinaryType, false)
            .add("lse", DataTypes.BinaryType, false);

    private AttentionOutput() {
    }

    static boolean isSafetensors(String out) {
        return out.endsWith(".safetensors");
    }

    /** Positions per Parquet row: the largest power of two up to 4096 that divides L. */
    static int blockSize(PartitionPlan plan) {
        return Integer.lowestOneBit(plan.partitionLength()) >= 4096 ? 4096
                : Integer.lowestOneBit(plan.partitionLength());
    }

    /** Writes the output; an existing one is replaced only once the new one is complete. */
    static void write(SparkSession spark, JavaRDD<AttentionPartition> blocks, PartitionPlan plan, String out,
                      Map<String, String> metadata) throws IOException {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        try (AtomicOutput output = AtomicOutput.begin(out, conf)) {
            Path tmp = output.temporary();
            if (isSafetensors(out)) {
                writeParts(blocks, tmp, new SerializableHadoopConf(conf));
                Path file = new Path(tmp, output.target().getName());
                assemble(output.fileSystem(), tmp, file, plan, metadata, conf);
                output.commit(file);
            } else {
                writeParquet(spark, blocks, plan, tmp, metadata);
                output.commit();
            }
        }
    }

    private static void writeParts(JavaRDD<AttentionPartition> blocks, Path tmp, SerializableHadoopConf conf) {
        String dir = tmp.toString();
        blocks.foreach(b -> {
            Path base = new Path(dir);
            FileSystem fs = HadoopFiles.withoutChecksums(base.getFileSystem(conf.get()));
            writeFloats(fs, new Path(base, String.format("o-%06d", b.partition())), b.o());
            writeFloats(fs, new Path(base, String.format("lse-%06d", b.partition())), b.lse());
        });
    }

    private static void writeFloats(FileSystem fs, Path path, float[] values) throws IOException {
        ByteBuffer bytes = ByteBuffer.allocate(values.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        bytes.asFloatBuffer().put(values);
        try (OutputStream out = fs.create(path, false)) {
            out.write(bytes.array());
        }
    }

    private static void assemble(FileSystem fs, Path parts, Path file, PartitionPlan plan,
                                 Map<String, String> metadata, Configuration conf) throws IOException {
        long n = plan.n();
        int heads = plan.config().heads();
        List<SafetensorsWriter.Spec> specs = List.of(
                SafetensorsWriter.Spec.of("o", DType.F32, n, heads, plan.config().headDim()),
                SafetensorsWriter.Spec.of("lse", DType.F32, n, heads));
        byte[] chunk = new byte[1 << 22];
        try (SafetensorsWriter writer = HadoopSafetensors.create(file.toString(), conf, specs, metadata)) {
            for (String tensor : new String[] {"o", "lse"}) {
                for (int p = 0; p < plan.partitions(); p++) {
                    try (InputStream in = fs.open(new Path(parts, String.format("%s-%06d", tensor, p)))) {
                        for (int got = in.readNBytes(chunk, 0, chunk.length); got > 0;
                             got = in.readNBytes(chunk, 0, chunk.length)) {
                            writer.writeFloats(ByteBuffer.wrap(chunk, 0, got).order(ByteOrder.LITTLE_ENDIAN)
                                    .asFloatBuffer());
                        }
                    }
                }
            }
        }
    }

    private static void writeParquet(SparkSession spark, JavaRDD<AttentionPartition> blocks, PartitionPlan plan,
                                     Path tmp, Map<String, String> metadata) throws IOException {
        int b = blockSize(plan);
        int width = plan.config().rowWidth();
        int heads = plan.config().heads();
        JavaRDD<Row> rows = blocks.flatMap(block -> BlockRows.split(block, 0L, b, width, heads, true).iterator());
        Dataset<Row> frame = spark.createDataFrame(rows, PARQUET_SCHEMA);
        frame.write().parquet(tmp.toString());
        Map<String, Integer> columns = new LinkedHashMap<>();
        columns.put("o", width);
        columns.put("lse", heads);
        new BlockManifest(plan.n(), heads, plan.config().headDim(), b, columns, metadata)
                .write(tmp.toString(), spark.sparkContext().hadoopConfiguration());
    }
}
