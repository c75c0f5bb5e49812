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
import io.longnet.attention.AttentionKernel;
import io.longnet.attention.Branch;
import io.longnet.attention.DilatedAttentionConfig;
import io.longnet.attention.NonFiniteInputException;
import io.longnet.attention.NonFiniteValue;
import io.longnet.storage.HadoopFiles;
import io.longnet.storage.MappedRegion;
import io.longnet.tensors.DType;
import java.io.IOException;
import java.io.Serializable;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ForkJoinPool;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.SparkSession;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

/**
 * The {@code attend} input as a safetensors file holding {@code q}, {@code k}, {@code v} of shape
 * {@code [N, H, d]} (F32, F16 or BF16). The driver reads the header only; each task reads its own rows
 * with positioned reads and rejects non-finite values, naming the tensor and the position.
 *
 * @param uri   the file, as the user named it
 * @param conf  the Hadoop configuration the tasks open it with
 * @param shape q's, k's and v's shape, from the header
 * @param local where tasks can map the rows from; null when they cannot (a remote file, mixed dtypes)
 */
record SafetensorsQkv(String uri, SerializableHadoopConf conf, Shape shape, LocalRows local) implements QkvInput {

    /**
     * A file on this machine's file system holding q, k and v in one dtype: {@code offsets} are where each
     * tensor's data begin in the file.
     */
    record LocalRows(String path, DType dtype, long[] offsets) implements Serializable {
    }

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
                    new Shape(dims[0], (int) dims[1], (int) dims[2]), localRows(uri, conf, file));
        }
    }

    private static LocalRows localRows(String uri, Configuration conf, SafetensorsFile file) throws IOException {
        Path path = new Path(uri);
        java.nio.file.Path local = HadoopFiles.localFile(path, path.getFileSystem(conf));
        DType dtype = file.tensor(NAMES[0]).dtype();
        long[] offsets = new long[NAMES.length];
        for (int t = 0; t < NAMES.length; t++) {
            TensorInfo info = file.tensor(NAMES[t]);
            if (info.dtype() != dtype) {
                return null;
            }
            offsets[t] = file.dataStart() + info.begin();
        }
        return local == null ? null : new LocalRows(local.toString(), dtype, offsets);
    }

    /** Whether tasks can map partition rows of {@code plan} from the file (each tensor's rows under 2 GB). */
    boolean mappable(PartitionPlan plan) {
        return local != null && (long) plan.partitionLength() * shape.width() * local.dtype().bytes()
                <= Integer.MAX_VALUE;
    }

    /**
     * Partition {@code p}'s rows of q, k, v mapped from the file ({@link #mappable}): the kernel reads them
     * where the page cache holds them.
     */
    MappedQkv map(PartitionPlan plan, int p) throws IOException {
        long start = plan.start(p);
        int len = plan.length(p);
        long rowBytes = (long) shape.width() * local.dtype().bytes();
        MappedQkv rows = new MappedQkv(start, len, new MappedRegion[NAMES.length]);
        try {
            for (int t = 0; t < NAMES.length; t++) {
                rows.regions[t] = MappedRegion.read(java.nio.file.Path.of(local.path()),
                        local.offsets()[t] + start * rowBytes, len * rowBytes);
            }
        } catch (IOException | RuntimeException e) {
            rows.close();
            throw e;
        }
        return rows;
    }

    /** One partition's q, k, v as mapped rows of the file; unmapped on close. */
    final class MappedQkv implements AutoCloseable {
        private final long start;
        private final int length;
        private final MappedRegion[] regions;

        private MappedQkv(long start, int length, MappedRegion[] regions) {
            this.start = start;
            this.length = length;
            this.regions = regions;
        }

        /**
         * Attends the rows with {@code kernel}'s {@code branches} into {@code o} and {@code lse}: 16-bit rows
         * as they are stored (the kernel checks them), float32 rows checked here first. A non-finite input
         * is reported with the file and its position, as {@link #read} reports it. Returns the first result
         * float32 could not hold (null when none).
         */
        NonFiniteValue attend(AttentionKernel kernel, DilatedAttentionConfig config, List<Branch> branches,
                              FloatBuffer o, FloatBuffer lse) throws IOException {
            long first = start * shape.width();
            if (local.dtype() == DType.F32) {
                FloatBuffer[] in = new FloatBuffer[NAMES.length];
                List<ParallelIo.Piece> checks = new ArrayList<>();
                for (int t = 0; t < NAMES.length; t++) {
                    in[t] = regions[t].bytes().asFloatBuffer();
                    checks.addAll(finiteChecks(NAMES[t], in[t], first));
                }
                ParallelIo.runAll(checks);
                kernel.forward(config, branches, in[0], in[1], in[2], length, o, lse);
                return NonFiniteValue.firstResult(o, lse);
            }
            try {
                return kernel.forward(config, branches, local.dtype().halfFloat(), regions[0].bytes().asShortBuffer(),
                        regions[1].bytes().asShortBuffer(), regions[2].bytes().asShortBuffer(), length, o, lse);
            } catch (NonFiniteInputException e) {
                throw TensorChecks.nonFinite(uri, e.tensor(), e.value(), first + e.element(), shape.dims());
            }
        }

        /** Unmaps the rows (those mapped so far, when mapping failed part way). */
        @Override
        public void close() {
            for (MappedRegion r : regions) {
                if (r != null) {
                    r.close();
                }
            }
        }
    }

    /** The finiteness check of {@code values} (elements {@code first ..} of the tensor) in parallel pieces. */
    private List<ParallelIo.Piece> finiteChecks(String name, FloatBuffer values, long first) {
        List<ParallelIo.Piece> pieces = new ArrayList<>();
        int total = values.remaining();
        int per = Math.max(PIECE_ELEMENTS, (total + ForkJoinPool.getCommonPoolParallelism() - 1)
                / ForkJoinPool.getCommonPoolParallelism());
        for (int from = 0; from < total; from += per) {
            FloatBuffer piece = values.slice(from, Math.min(per, total - from));
            long at = first + from;
            pieces.add(() -> TensorChecks.requireFinite(uri, name, piece, at, shape.dims()));
        }
        return pieces;
    }

    /** One task per partition of the plan, each reading its own rows; their time goes to {@link #READ}. */
    @Override
    public JavaRDD<QkvPartition> blocks(SparkSession spark, PartitionPlan plan, PhaseTimes times) {
        return plan.partitionIds(spark.sparkContext()).map(p -> {
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
