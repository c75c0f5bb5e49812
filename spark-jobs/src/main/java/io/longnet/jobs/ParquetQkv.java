package io.longnet.jobs;

import io.longnet.datasets.BlockManifest;
import io.longnet.datasets.TensorChecks;
import io.longnet.datasets.TensorFormatException;
import io.longnet.spark.PartitionIdPartitioner;
import io.longnet.spark.PartitionPlan;
import io.longnet.spark.QkvBlock;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
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
    public long length() {
        return manifest.n();
    }

    @Override
    public int heads() {
        return manifest.heads();
    }

    @Override
    public int headDim() {
        return manifest.headDim();
    }

    @Override
    public JavaRDD<QkvBlock> blocks(SparkSession spark, PartitionPlan plan) {
        int b = manifest.blockSize();
        if (plan.partitionLength() % b != 0) {
            throw new IllegalArgumentException("partition length " + plan.partitionLength()
                    + " is not a multiple of the dataset's block size " + b);
        }
        int perPartition = plan.partitionLength() / b;
        String source = uri;
        int width = manifest.heads() * manifest.headDim();
        long n = manifest.n();
        long[] shape = {n, manifest.heads(), manifest.headDim()};
        return spark.read().parquet(uri).select("seq_id", "block", "q", "k", "v").javaRDD()
                .mapToPair(r -> new Tuple2<>((int) (r.getLong(1) / perPartition), r))
                .partitionBy(new PartitionIdPartitioner(plan.partitions()))
                .mapPartitionsWithIndex((p, rows) -> {
                    List<Row> mine = new ArrayList<>();
                    rows.forEachRemaining(t -> mine.add(t._2()));
                    return List.of(assemble(source, plan, p, b, width, shape, mine)).iterator();
                }, true);
    }

    private static QkvBlock assemble(String source, PartitionPlan plan, int p, int b, int width, long[] shape,
                                     List<Row> rows) {
        long start = plan.start(p);
        int len = plan.length(p);
        float[][] t = new float[3][len * width];
        boolean[] seen = new boolean[(len + b - 1) / b];
        for (Row r : rows) {
            if (r.getLong(0) != 0) {
                throw new TensorFormatException(source, "seq_id", "attend takes one sequence (seq_id 0); found "
                        + r.getLong(0));
            }
            long block = r.getLong(1);
            int at = (int) (block * b - start);
            int positions = Math.min(b, len - at);
            if (at < 0 || at >= len || seen[at / b]) {
                throw new TensorFormatException(source, "block", "block " + block + " is out of range or repeated");
            }
            seen[at / b] = true;
            for (int i = 0; i < 3; i++) {
                byte[] bytes = (byte[]) r.get(2 + i);
                if (bytes.length != positions * width * Float.BYTES) {
                    throw new TensorFormatException(source, SafetensorsQkv.NAMES[i], "block " + block + " holds "
                            + bytes.length + " bytes, expected " + positions * width * Float.BYTES);
                }
                FloatBuffer values = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
                TensorChecks.requireFinite(source, SafetensorsQkv.NAMES[i], values, (start + at) * width, shape);
                values.get(t[i], at * width, positions * width);
            }
        }
        for (int i = 0; i < seen.length; i++) {
            if (!seen[i]) {
                throw new TensorFormatException(source, "block", "block " + (start / b + i) + " is missing");
            }
        }
        return new QkvBlock(p, start, len, t[0], t[1], t[2]);
    }
}
