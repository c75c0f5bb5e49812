package io.longnet.jobs;

import io.longnet.storage.BlockColumns;
import io.longnet.tensors.TensorFormatException;
import io.longnet.tensors.TensorChecks;
import io.longnet.datasets.BlockManifest;
import io.longnet.spark.BlockRows;
import io.longnet.spark.PartitionIdPartitioner;
import io.longnet.spark.PartitionPlan;
import io.longnet.spark.PhaseTimes;
import io.longnet.spark.QkvPartition;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import scala.Tuple2;

/**
 * The {@code attend} input as a Parquet block dataset (see {@link BlockManifest}) with columns q, k, v:
 * one shuffle groups the blocks into partitions of the plan; each partition checks that its blocks are
 * all there and finite.
 */
final class ParquetQkv implements QkvInput {

    private final String uri;
    private final BlockManifest manifest;

    private ParquetQkv(String uri, BlockManifest manifest) {
        this.uri = uri;
        this.manifest = manifest;
    }

    static ParquetQkv open(String uri, org.apache.hadoop.conf.Configuration conf) throws IOException {
        BlockManifest m = BlockManifest.read(uri, conf);
        for (String name : SafetensorsQkv.NAMES) {
            if (m.width(uri, name) != m.heads() * m.headDim()) {
                throw new TensorFormatException(uri, name, "holds " + m.width(uri, name)
                        + " floats per position, expected H * d = " + m.heads() * m.headDim());
            }
        }
        return new ParquetQkv(uri, m);
    }

    @Override
    public Shape shape() {
        return new Shape(manifest.n(), manifest.heads(), manifest.headDim());
    }

    /**
     * The rows shuffled to their partitions; the time to assemble and check them goes to {@link #READ} (the
     * Parquet scan is a stage of its own, with its own line in the job's summary).
     */
    @Override
    public JavaRDD<QkvPartition> blocks(SparkSession spark, PartitionPlan plan, PhaseTimes times) {
        int b = manifest.blockSize();
        if (plan.partitionLength() % b != 0) {
            throw new IllegalArgumentException("partition length " + plan.partitionLength()
                    + " is not a multiple of the dataset's block size " + b);
        }
        int perPartition = plan.partitionLength() / b;
        String source = uri;
        int width = shape().width();
        long[] dims = shape().dims();
        return spark.read().parquet(uri).select(BlockColumns.SEQ_ID, BlockColumns.BLOCK, "q", "k", "v").javaRDD()
                .mapToPair(r -> new Tuple2<>((int) (r.getLong(1) / perPartition), r))
                .partitionBy(new PartitionIdPartitioner(plan.partitions()))
                .mapPartitionsWithIndex((p, rows) -> {
                    List<Row> mine = new ArrayList<>();
                    rows.forEachRemaining(t -> mine.add(t._2()));
                    long t0 = System.nanoTime();
                    QkvPartition block = assemble(source, plan, p, b, width, dims, mine);
                    times.since(READ, t0);
                    return List.of(block).iterator();
                }, true);
    }

    /** The shared assembly, on one sequence (seq_id 0), then every value checked finite, naming the tensor. */
    private static QkvPartition assemble(String source, PartitionPlan plan, int p, int b, int width, long[] dims,
                                         List<Row> rows) {
        for (Row r : rows) {
            if (r.getLong(0) != 0) {
                throw new TensorFormatException(source, BlockColumns.SEQ_ID, "attend takes one sequence (seq_id 0); found "
                        + r.getLong(0));
            }
        }
        QkvPartition block = BlockRows.assemble(source, plan, p, b, width, rows);
        float[][] tensors = {block.q(), block.k(), block.v()};
        for (int i = 0; i < 3; i++) {
            TensorChecks.requireFinite(source, SafetensorsQkv.NAMES[i], FloatBuffer.wrap(tensors[i]),
                    block.start() * width, dims);
        }
        return block;
    }
}
