package io.longnet.jobs;

import io.longnet.tensors.SafetensorsFile;
import io.longnet.tensors.TensorFormatException;
import io.longnet.tensors.TensorChecks;
import io.longnet.tensors.TensorInfo;
import io.longnet.storage.SerializableHadoopConf;
import io.longnet.storage.HadoopSafetensors;
import io.longnet.spark.PartitionPlan;
import io.longnet.spark.PhaseTimes;
import io.longnet.spark.QkvPartition;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ForkJoinPool;
import java.util.stream.IntStream;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.apache.hadoop.conf.Configuration;

/**
 * The {@code attend} input as a safetensors file holding {@code q}, {@code k}, {@code v} of shape
 * {@code [N, H, d]} (F32, F16 or BF16). The driver reads the header only; each task reads its own rows
 * with positioned reads and rejects non-finite values, naming the tensor and the position.
 *
 * @param uri   the file, as the user named it
 * @param conf  the Hadoop configuration the tasks open it with
 * @param shape q's, k's and v's shape, from the header
 */
record SafetensorsQkv(String uri, SerializableHadoopConf conf, Shape shape) implements QkvInput {

    static final String[] NAMES = {"q", "k", "v"};
    /** Fewest elements per piece of a read (8 MB of F16): smaller partitions are read as one piece. */
    static final int PIECE_ELEMENTS = 1 << 22;

    /** Reads and checks the header: q, k, v present, rank 3, equal shapes. */
    static SafetensorsQkv open(String uri, Configuration conf) throws IOException {
        try (SafetensorsFile file = HadoopSafetensors.open(uri, conf)) {
            long[] dims = null;
            for (String name : NAMES) {
                TensorInfo t = file.tensor(name);
                if (t.rank() != 3) {
                    throw new TensorFormatException(uri, name, "tensor '" + name + "': shape "
                            + Arrays.toString(t.shape()) + " is not [N, H, d]");
                }
                if (dims == null) {
                    dims = t.shape();
                } else if (!Arrays.equals(dims, t.shape())) {
                    throw new TensorFormatException(uri, name, "tensor '" + name + "': shape "
                            + Arrays.toString(t.shape()) + " differs from q's " + Arrays.toString(dims));
                }
            }
            if (dims[0] < 1 || dims[1] < 1 || dims[2] < 1 || dims[1] * dims[2] > Integer.MAX_VALUE) {
                throw new TensorFormatException(uri, "q", "tensors q, k, v: shape " + Arrays.toString(dims)
                        + " needs N, H, d >= 1");
            }
            return new SafetensorsQkv(uri, new SerializableHadoopConf(conf),
                    new Shape(dims[0], (int) dims[1], (int) dims[2]));
        }
    }

    /** One task per partition of the plan, each reading its own rows; their time goes to {@link #READ}. */
    @Override
    public JavaRDD<QkvPartition> blocks(SparkSession spark, PartitionPlan plan, PhaseTimes times) {
        List<Integer> ids = new ArrayList<>(plan.partitions());
        IntStream.range(0, plan.partitions()).forEach(ids::add);
        return JavaSparkContext.fromSparkContext(spark.sparkContext()).parallelize(ids, plan.partitions())
                .map(p -> {
                    long t0 = System.nanoTime();
                    QkvPartition block = read(plan, p);
                    times.since(READ, t0);
                    return block;
                });
    }

    /**
     * Partition {@code p} of {@code plan}, read on the executor: each tensor's rows in as many pieces as the
     * common pool has threads (none under {@link #PIECE_ELEMENTS}), read and converted in parallel
     * ({@link ParallelIo}).
     */
    QkvPartition read(PartitionPlan plan, int p) throws IOException {
        int len = plan.length(p);
        int threads = ForkJoinPool.getCommonPoolParallelism();
        return read(plan, p, Math.max((len + threads - 1) / threads, Math.max(1, PIECE_ELEMENTS / shape.width())));
    }

    /** As {@link #read(PartitionPlan, int)}, in pieces of {@code rowsPerPiece} rows. */
    QkvPartition read(PartitionPlan plan, int p, int rowsPerPiece) throws IOException {
        long start = plan.start(p);
        int len = plan.length(p);
        int width = shape.width();
        float[][] tensors = new float[3][len * width];
        try (SafetensorsFile file = HadoopSafetensors.open(uri, conf.get())) {
            // Positioned reads, a buffer per call: the pieces share the file.
            List<ParallelIo.Piece> pieces = new ArrayList<>();
            for (int t = 0; t < 3; t++) {
                float[] dst = tensors[t];
                String name = NAMES[t];
                for (int row = 0; row < len; row += rowsPerPiece) {
                    int first = row;
                    int rows = Math.min(rowsPerPiece, len - row);
                    pieces.add(() -> {
                        FloatBuffer slice = FloatBuffer.wrap(dst, first * width, rows * width);
                        file.readRows(name, start + first, rows, slice);
                        TensorChecks.requireFinite(uri, name, FloatBuffer.wrap(dst, first * width, rows * width),
                                (start + first) * width, shape.dims());
                    });
                }
            }
            ParallelIo.runAll(pieces);
        }
        return new QkvPartition(p, start, len, tensors[0], tensors[1], tensors[2]);
    }
}
