package io.longnet.jobs;

import io.longnet.storage.BlockColumns;
import io.longnet.tensors.DType;
import io.longnet.tensors.SafetensorsWriter;
import io.longnet.storage.AtomicOutput;
import io.longnet.storage.HadoopFiles;
import io.longnet.storage.SerializableHadoopConf;
import io.longnet.storage.HadoopSafetensors;
import io.longnet.storage.MappedRegion;
import io.longnet.datasets.BlockManifest;
import io.longnet.spark.AttentionPartition;
import io.longnet.spark.BlockRows;
import io.longnet.spark.PartitionPlan;
import io.longnet.spark.PhaseTimes;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.Serializable;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.concurrent.ForkJoinPool;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import scala.Tuple2;

/**
 * Writes {@code o} and {@code lse} atomically: everything goes to a hidden sibling of the output path
 * first and is renamed into place only when complete, so a failed job leaves nothing under the output.
 * <ul>
 *   <li>{@code *.safetensors} ({@code o} F32 {@code [N, H, d]}, {@code lse} F32 {@code [N, H]}): on a local
 *       (or locally mounted) file system the driver creates the file with its header and full length, and
 *       each task writes its rows at their offsets; elsewhere (HDFS, no positioned writes) tasks write part
 *       files that the driver then streams, in order, into one file. Both give the same bytes.</li>
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

    /** The phase of {@link PhaseTimes} the tasks' writing time goes to. */
    static final String WRITE = "write";
    /** Floats per direct buffer of a positioned write (16 MB). */
    private static final int CHUNK_FLOATS = 1 << 22;
    /** A partition's floats are written in pieces of at least this many, in parallel. */
    private static final int PIECE_FLOATS = 1 << 22;

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

    /**
     * Writes the output; an existing one is replaced only once the new one is complete. The tasks' time
     * writing goes to {@code times}' {@link #WRITE}.
     */
    static void write(SparkSession spark, JavaRDD<AttentionPartition> blocks, PartitionPlan plan, String out,
                      Map<String, String> metadata, PhaseTimes times, boolean overwrite) throws IOException {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        try (AtomicOutput output = AtomicOutput.begin(out, conf, overwrite)) {
            Path tmp = output.temporary();
            if (isSafetensors(out)) {
                Path file = new Path(tmp, output.target().getName());
                SafetensorsWriter.Layout layout = SafetensorsWriter.layout(file.toString(), specs(plan), metadata);
                java.nio.file.Path path = HadoopFiles.localFile(file, output.fileSystem());
                if (path != null) {
                    preallocate(path, layout);
                    writeInPlace(blocks, path.toString(), plan, layout, times);
                } else {
                    List<String> parts = writeParts(blocks, tmp, new SerializableHadoopConf(conf), times);
                    assemble(output.fileSystem(), tmp, parts, file, plan, metadata, conf);
                }
                output.commit(file);
            } else {
                writeParquet(spark, blocks, plan, tmp, metadata, times);
                output.commit();
            }
        }
    }

    /** Computes one partition's o and lse straight into the buffers it is given; returns the backend's name. */
    @FunctionalInterface
    interface PartitionTask extends Serializable {
        String compute(int partition, FloatBuffer o, FloatBuffer lse) throws IOException;
    }

    /**
     * Whether tasks can compute {@code plan}'s partitions straight into the output file: a safetensors file
     * on the local file system, each partition's o under 2 GB (one mapping).
     */
    static boolean mappable(String out, PartitionPlan plan, Configuration conf) throws IOException {
        Path path = new Path(out);
        return isSafetensors(out) && HadoopFiles.localFile(path, path.getFileSystem(conf)) != null
                && (long) plan.partitionLength() * plan.config().rowWidth() * Float.BYTES <= Integer.MAX_VALUE;
    }

    /**
     * Writes the safetensors output ({@link #mappable}) with each task's {@code task} computing its o and lse
     * into the file's mapped rows: no copy of the results exists on the heap, and nothing is written twice.
     * Atomic as {@link #write}; a retried attempt computes the same rows into the same place. Returns the
     * backends that ran, one per partition.
     */
    static List<String> writeMapped(SparkSession spark, PartitionPlan plan, String out, Map<String, String> metadata,
                                    PhaseTimes times, boolean overwrite, PartitionTask task) throws IOException {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        try (AtomicOutput output = AtomicOutput.begin(out, conf, overwrite)) {
            Path file = new Path(output.temporary(), output.target().getName());
            SafetensorsWriter.Layout layout = SafetensorsWriter.layout(file.toString(), specs(plan), metadata);
            java.nio.file.Path local = HadoopFiles.localFile(file, output.fileSystem());
            preallocate(local, layout);
            String path = local.toString();
            RowOffsets at = RowOffsets.of(layout, plan);
            List<String> ran = plan.partitionIds(spark.sparkContext()).map(p -> {
                long start = plan.start(p);
                int len = plan.length(p);
                java.nio.file.Path f = java.nio.file.Path.of(path);
                long t0 = System.nanoTime();
                MappedRegion o = MappedRegion.write(f, at.o(start), len * at.oRow());
                try (o; MappedRegion lse = MappedRegion.write(f, at.lse(start), len * at.lseRow())) {
                    times.since(WRITE, t0);
                    String name = task.compute(p, o.bytes().asFloatBuffer(), lse.bytes().asFloatBuffer());
                    t0 = System.nanoTime();
                    return name;
                } finally {
                    times.since(WRITE, t0); // mapping and unmapping: the page cache holds the rows
                }
            }).collect();
            output.commit(file);
            return ran;
        }
    }

    /** Where a partition's rows of o and lse begin in the output file, and the bytes per position of each. */
    private record RowOffsets(long oAt, long lseAt, long oRow, long lseRow) implements Serializable {

        static RowOffsets of(SafetensorsWriter.Layout layout, PartitionPlan plan) {
            return new RowOffsets(layout.dataStart() + layout.tensor("o").begin(),
                    layout.dataStart() + layout.tensor("lse").begin(), (long) plan.config().rowWidth() * Float.BYTES,
                    (long) plan.config().heads() * Float.BYTES);
        }

        /** Where the o rows from position {@code start} begin. */
        long o(long start) {
            return oAt + start * oRow;
        }

        /** Where the lse rows from position {@code start} begin. */
        long lse(long start) {
            return lseAt + start * lseRow;
        }
    }

    private static List<SafetensorsWriter.Spec> specs(PartitionPlan plan) {
        long n = plan.n();
        int heads = plan.config().heads();
        return List.of(SafetensorsWriter.Spec.of("o", DType.F32, n, heads, plan.config().headDim()),
                SafetensorsWriter.Spec.of("lse", DType.F32, n, heads));
    }

    /**
     * Creates the local file with its header and its full length (the data still a hole), so that the tasks
     * can fill in their rows where they belong.
     */
    private static void preallocate(java.nio.file.Path file, SafetensorsWriter.Layout layout) throws IOException {
        Files.createDirectories(file.getParent());
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            writeFully(ch, ByteBuffer.wrap(layout.header()), 0);
            if (layout.fileLength() > layout.dataStart()) {
                writeFully(ch, ByteBuffer.allocate(1), layout.fileLength() - 1);
            }
        }
    }

    /**
     * Each task writes its o and lse rows at their offsets of the preallocated file: the output is written
     * once, by the tasks, in parallel; nothing passes through the driver. A retried or speculative attempt
     * writes the same bytes at the same offsets, so it is harmless; the file is opened without creating it,
     * so an attempt that outlives the job cannot leave one behind.
     */
    private static void writeInPlace(JavaRDD<AttentionPartition> blocks, String file, PartitionPlan plan,
                                     SafetensorsWriter.Layout layout, PhaseTimes times) {
        RowOffsets at = RowOffsets.of(layout, plan);
        blocks.foreach(b -> {
            long t0 = System.nanoTime();
            try (FileChannel ch = FileChannel.open(java.nio.file.Path.of(file), StandardOpenOption.WRITE)) {
                writeFloats(ch, at.o(b.start()), b.o());
                writeFloats(ch, at.lse(b.start()), b.lse());
            }
            times.since(WRITE, t0);
        });
    }

    /**
     * {@code values} as little-endian float32 at {@code position}: in a few pieces written in parallel, each
     * through one direct buffer (a bulk copy, no conversion per element on the heap).
     */
    private static void writeFloats(FileChannel ch, long position, float[] values) throws IOException {
        writeFloats(ch, position, values, (int) Math.max(1, Math.min(ForkJoinPool.getCommonPoolParallelism(),
                (long) values.length / PIECE_FLOATS)));
    }

    /** As {@link #writeFloats(FileChannel, long, float[])}, in {@code pieces} pieces. */
    static void writeFloats(FileChannel ch, long position, float[] values, int pieces) throws IOException {
        int perPiece = (values.length + pieces - 1) / pieces;
        List<ParallelIo.Piece> work = new ArrayList<>(pieces);
        for (int from = 0; from < values.length; from += perPiece) {
            int start = from;
            int end = Math.min(values.length, from + perPiece);
            work.add(() -> {
                ByteBuffer buf = ByteBuffer.allocateDirect(Math.min(CHUNK_FLOATS, end - start) * Float.BYTES)
                        .order(ByteOrder.LITTLE_ENDIAN);
                for (int i = start; i < end; i += CHUNK_FLOATS) {
                    int k = Math.min(CHUNK_FLOATS, end - i);
                    buf.clear();
                    buf.asFloatBuffer().put(values, i, k);
                    buf.limit(k * Float.BYTES);
                    writeFully(ch, buf, position + (long) i * Float.BYTES);
                }
            });
        }
        ParallelIo.runAll(work);
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
        for (long at = position; buf.hasRemaining(); ) {
            at += ch.write(buf, at);
        }
    }

    /**
     * File systems without positioned writes (HDFS): each task attempt writes its rows as part files of its
     * own (named by the attempt), and the driver streams those of the attempts that succeeded, in order, into
     * the file. An attempt that outlives its task (a lost executor's, a speculative copy) writes files nobody
     * reads, which go with the temporary folder. Returns each partition's part-name suffix, by partition.
     */
    private static List<String> writeParts(JavaRDD<AttentionPartition> blocks, Path tmp, SerializableHadoopConf conf,
                                           PhaseTimes times) {
        String dir = tmp.toString();
        List<Tuple2<Integer, String>> written = blocks.map(b -> {
            long t0 = System.nanoTime();
            Path base = new Path(dir);
            FileSystem fs = HadoopFiles.withoutChecksums(base.getFileSystem(conf.get()));
            TaskContext task = TaskContext.get();
            String suffix = String.format("%06d-attempt-%d", b.partition(), task == null ? 0 : task.taskAttemptId());
            writeFloats(fs, new Path(base, "o-" + suffix), b.o());
            writeFloats(fs, new Path(base, "lse-" + suffix), b.lse());
            times.since(WRITE, t0);
            return new Tuple2<>(b.partition(), suffix);
        }).collect();
        String[] byPartition = new String[written.size()];
        for (Tuple2<Integer, String> w : written) {
            byPartition[w._1()] = w._2();
        }
        return List.of(byPartition);
    }

    private static void writeFloats(FileSystem fs, Path path, float[] values) throws IOException {
        ByteBuffer bytes = ByteBuffer.allocate(values.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        bytes.asFloatBuffer().put(values);
        try (OutputStream out = fs.create(path, true)) {
            out.write(bytes.array());
        }
    }

    private static void assemble(FileSystem fs, Path parts, List<String> suffixes, Path file, PartitionPlan plan,
                                 Map<String, String> metadata, Configuration conf) throws IOException {
        byte[] chunk = new byte[1 << 22];
        try (SafetensorsWriter writer = HadoopSafetensors.create(file.toString(), conf, specs(plan), metadata)) {
            for (String tensor : new String[] {"o", "lse"}) {
                for (int p = 0; p < plan.partitions(); p++) {
                    try (InputStream in = fs.open(new Path(parts, tensor + "-" + suffixes.get(p)))) {
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
                                     Path tmp, Map<String, String> metadata, PhaseTimes times) throws IOException {
        int b = blockSize(plan);
        int width = plan.config().rowWidth();
        int heads = plan.config().heads();
        JavaRDD<Row> rows = blocks.flatMap(block -> {
            long t0 = System.nanoTime();
            List<Row> split = BlockRows.split(block, 0L, b, width, heads, true);
            times.since(WRITE, t0); // the encoding into rows; Parquet's own writing is not timed apart
            return split.iterator();
        });
        Dataset<Row> frame = spark.createDataFrame(rows, PARQUET_SCHEMA);
        frame.write().parquet(tmp.toString());
        Map<String, Integer> columns = new LinkedHashMap<>();
        columns.put("o", width);
        columns.put("lse", heads);
        new BlockManifest(plan.n(), heads, plan.config().headDim(), b, columns, metadata)
                .write(tmp.toString(), spark.sparkContext().hadoopConfiguration());
    }
}
