package io.longnet.jobs;

import io.longnet.attention.Backend;
import io.longnet.tensors.DType;
import io.longnet.tensors.SafetensorsFile;
import io.longnet.tensors.SafetensorsWriter;
import io.longnet.spark.PartitionPlan;
import io.longnet.spark.QkvPartition;
import io.longnet.storage.HadoopSafetensors;
import io.longnet.attention.Tensors;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.attention.AttentionResult;
import io.longnet.attention.Branch;
import io.longnet.attention.CpuAttentionKernel;
import io.longnet.attention.DilatedAttentionConfig;
import io.longnet.datasets.SyntheticQkv;
import io.longnet.spark.SparkSessionExtension;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class AttendJobTest {

    @RegisterExtension
    static final SparkSessionExtension SPARK = new SparkSessionExtension();

    @TempDir
    Path dir;

    static float[] readAll(String uri, String tensor) throws IOException {
        try (SafetensorsFile f = HadoopSafetensors.open(uri, new Configuration())) {
            float[] out = new float[Math.toIntExact(f.tensor(tensor).elements())];
            f.readRows(tensor, 0, Math.toIntExact(f.tensor(tensor).rows()), FloatBuffer.wrap(out));
            return out;
        }
    }

    /** The single-process engine on the same (dtype-converted) inputs. */
    static AttentionResult engine(String qkv, String branches, boolean causal) throws IOException {
        float[] q = readAll(qkv, "q");
        try (SafetensorsFile f = HadoopSafetensors.open(qkv, new Configuration())) {
            long[] shape = f.tensor("q").shape();
            DilatedAttentionConfig c = DilatedAttentionConfig.of(Branch.parseList(branches), (int) shape[1],
                    (int) shape[2], causal);
            try (CpuAttentionKernel kernel = new CpuAttentionKernel(2)) {
                return kernel.forward(c, q, readAll(qkv, "k"), readAll(qkv, "v"));
            }
        }
    }


    static AttendJob.Summary attend(String in, String out, String branches, boolean causal, int len)
            throws IOException {
        return AttendJob.run(SPARK.session(), new AttendJob.Request(in, out, Branch.parseList(branches), null,
                causal, len, Backend.CPU, false), new PrintStream(new ByteArrayOutputStream()));
    }

    @ParameterizedTest(name = "{0} {1} causal={2} N={3} L={4}")
    @CsvSource(delimiter = '|', value = {
        "F32  | 32:1,64:2,128:4,256:6,512:12 | false | 1500 | 1024",
        "F32  | 32:1,64:2,128:4,256:6,512:12 | true  | 1500 | 256",
        "F32  | 32:1,64:2,128:4,256:6,512:12 | false | 1333 | 64",
        "BF16 | 64:1,256:3                   | true  | 900  | 32",
        "F16  | 64:1,256:3                   | false | 777  | 128",
    })
    void safetensorsOutputEqualsTheSingleProcessEngine(DType dtype, String branches, boolean causal, int n, int len)
            throws IOException {
        String in = dir.resolve("qkv.safetensors").toUri().toString();
        SyntheticQkv.write(in, new Configuration(), n, 6, 16, dtype, n + len);
        String out = dir.resolve("out.safetensors").toUri().toString();
        attend(in, out, branches, causal, len);
        AttentionResult want = engine(in, branches, causal);
        assertTrue(Tensors.relativeError(readAll(out, "o"), want.oArray()) < 1e-5, "o");
        assertTrue(Tensors.relativeError(readAll(out, "lse"), want.lseArray()) < 1e-5, "lse");
        assertEquals(List.of("out.safetensors", "qkv.safetensors"), listing(dir), "no temporary files left");
    }

    /**
     * The tasks write their rows into the preallocated file at their offsets: the file is byte for byte what
     * the streaming writer makes of the same values and metadata, and the same whatever the partition length
     * (with exchanges, without, chosen).
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"F16", "BF16", "F32"})
    void safetensorsOutputIsTheStreamingWritersBytesWhateverThePartitionLength(DType dtype) throws IOException {
        String branches = "32:1,64:2,128:4,256:6,512:12";
        String in = dir.resolve("qkv.safetensors").toUri().toString();
        SyntheticQkv.write(in, new Configuration(), 1500, 6, 16, dtype, 2024);
        byte[] first = null;
        // L = 64: rows through Spark with four branches exchanged; 512 and the chosen 1024: file to file
        // through mapped rows.
        for (int len : new int[] {64, 512, 0}) {
            Path out = dir.resolve("out-" + len + ".safetensors");
            AttendJob.Summary summary = attend(in, out.toUri().toString(), branches, true, len);
            assertEquals(len == 64 ? AttendJob.DataPath.ROWS : AttendJob.DataPath.MAPPED, summary.path(), "L = " + len);
            byte[] bytes = Files.readAllBytes(out);
            if (first == null) {
                first = bytes;
            } else {
                assertArrayEquals(first, bytes, "L = " + len + " gives the same bytes as L = 64");
            }
        }
        Path out = dir.resolve("out-64.safetensors");
        Path streamed = dir.resolve("streamed.safetensors");
        try (SafetensorsFile f = SafetensorsFile.open(out);
             SafetensorsWriter w = SafetensorsWriter.create(streamed, List.of(
                     SafetensorsWriter.Spec.of("o", DType.F32, 1500, 6, 16),
                     SafetensorsWriter.Spec.of("lse", DType.F32, 1500, 6)), f.metadata())) {
            w.writeFloats(FloatBuffer.wrap(f.readFloats("o")));
            w.writeFloats(FloatBuffer.wrap(f.readFloats("lse")));
        }
        assertArrayEquals(Files.readAllBytes(streamed), first, "the streaming writer's bytes");
    }

    /** Reading a partition in pieces (in parallel) gives what one piece gives, and the same first bad value. */
    @Test
    void readingInPiecesEqualsReadingWhole() throws IOException {
        int n = 1000;
        String in = dir.resolve("qkv.safetensors").toUri().toString();
        SyntheticQkv.write(in, new Configuration(), n, 4, 8, DType.BF16, 77);
        SafetensorsQkv qkv = SafetensorsQkv.open(in, new Configuration());
        PartitionPlan plan = PartitionPlan.of(DilatedAttentionConfig.of(Branch.parseList("64:1,128:2"), 4, 8, false),
                n, 256, 0);
        for (int p = 0; p < plan.partitions(); p++) {
            QkvPartition whole = qkv.read(plan, p, plan.length(p));
            QkvPartition pieces = qkv.read(plan, p, 7);
            assertArrayEquals(whole.q(), pieces.q(), "q of partition " + p);
            assertArrayEquals(whole.k(), pieces.k(), "k of partition " + p);
            assertArrayEquals(whole.v(), pieces.v(), "v of partition " + p);
        }
        // NaN in q[300, 2, 5] and in k[260, 0, 0] (an earlier piece of the partition): q's is named, as a
        // sequential read would.
        Path file = dir.resolve("qkv.safetensors");
        long dataStart;
        long kBegin;
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            dataStart = f.dataStart();
            kBegin = f.tensor("k").begin();
        }
        try (java.io.RandomAccessFile raf = new java.io.RandomAccessFile(file.toFile(), "rw")) {
            raf.seek(dataStart + 2L * (300 * 32 + 2 * 8 + 5));
            raf.writeShort(Short.reverseBytes((short) 0x7FC0));
            raf.seek(dataStart + kBegin + 2L * (260 * 32));
            raf.writeShort(Short.reverseBytes((short) 0x7FC0));
        }
        for (int rows : new int[] {256, 7}) {
            var e = assertThrows(io.longnet.tensors.TensorFormatException.class, () -> qkv.read(plan, 1, rows));
            assertEquals("file " + in + ": tensor 'q' holds NaN at [300, 2, 5]", e.getMessage(), rows + " rows a piece");
        }
    }

    /** Positioned writes in pieces put every float, little-endian, where it belongs. */
    @Test
    void floatsWrittenInPiecesLandAtTheirOffsets() throws IOException {
        float[] values = new float[1003];
        SplittableRandom rnd = new SplittableRandom(5);
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) rnd.nextGaussian();
        }
        Path file = dir.resolve("floats.bin");
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file,
                java.nio.file.StandardOpenOption.CREATE_NEW, java.nio.file.StandardOpenOption.WRITE)) {
            AttentionOutput.writeFloats(ch, 12, values, 5);
        }
        ByteBuffer want = ByteBuffer.allocate(12 + 4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        want.position(12);
        want.asFloatBuffer().put(values);
        assertArrayEquals(want.array(), Files.readAllBytes(file));
    }

    @Test
    void parquetBlockOutputHoldsTheSameValues() throws IOException {
        String in = dir.resolve("qkv.safetensors").toUri().toString();
        SyntheticQkv.write(in, new Configuration(), 1000, 4, 8, DType.F32, 3);
        String out = dir.resolve("out-blocks").toUri().toString();
        attend(in, out, "64:1,128:2,256:4", true, 64);
        AttentionResult want = engine(in, "64:1,128:2,256:4", true);
        float[] o = new float[1000 * 4 * 8];
        float[] lse = new float[1000 * 4];
        // Test-only collect: 16 rows of 64 positions.
        List<Row> rows = SPARK.session().read().parquet(out).collectAsList();
        assertEquals(16, rows.size());
        for (Row r : rows) {
            assertEquals(0L, r.getLong(r.fieldIndex("seq_id")));
            int block = (int) r.getLong(r.fieldIndex("block"));
            copy((byte[]) r.get(r.fieldIndex("o")), o, block * 64 * 32);
            copy((byte[]) r.get(r.fieldIndex("lse")), lse, block * 64 * 4);
        }
        assertTrue(Tensors.relativeError(o, want.oArray()) < 1e-5, "o");
        assertTrue(Tensors.relativeError(lse, want.lseArray()) < 1e-5, "lse");
    }

    @Test
    void parquetBlockInputGivesTheSameResultAsSafetensors() throws IOException {
        String in = dir.resolve("qkv.safetensors").toUri().toString();
        int n = 1000;
        SyntheticQkv.write(in, new Configuration(), n, 4, 8, DType.F32, 11);
        // The same q, k, v as a block dataset of B = 64 (the last block short), built here.
        float[][] qkv = {readAll(in, "q"), readAll(in, "k"), readAll(in, "v")};
        List<Row> rows = new java.util.ArrayList<>();
        for (int block = 0; block * 64 < n; block++) {
            int len = Math.min(64, n - block * 64);
            Object[] cells = new Object[5];
            cells[0] = 0L;
            cells[1] = (long) block;
            for (int t = 0; t < 3; t++) {
                ByteBuffer bytes = ByteBuffer.allocate(len * 32 * 4).order(ByteOrder.LITTLE_ENDIAN);
                bytes.asFloatBuffer().put(qkv[t], block * 64 * 32, len * 32);
                cells[2 + t] = bytes.array();
            }
            rows.add(org.apache.spark.sql.RowFactory.create(cells));
        }
        String blocks = dir.resolve("qkv-blocks").toUri().toString();
        org.apache.spark.sql.types.StructType schema = new org.apache.spark.sql.types.StructType()
                .add("seq_id", "long").add("block", "long").add("q", "binary").add("k", "binary").add("v", "binary");
        SPARK.session().createDataFrame(rows, schema).repartition(3).write().parquet(blocks);
        new io.longnet.datasets.BlockManifest(n, 4, 8, 64, java.util.Map.of("q", 32, "k", 32, "v", 32),
                java.util.Map.of()).write(blocks, new Configuration());

        String out = dir.resolve("out.safetensors").toUri().toString();
        attend(blocks, out, "64:1,128:2,256:4", true, 128);
        AttentionResult want = engine(in, "64:1,128:2,256:4", true);
        assertTrue(Tensors.relativeError(readAll(out, "o"), want.oArray()) < 1e-5, "o");
        assertTrue(Tensors.relativeError(readAll(out, "lse"), want.lseArray()) < 1e-5, "lse");
    }

    private static void copy(byte[] bytes, float[] dst, int at) {
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(dst, at, bytes.length / 4);
    }

    @Test
    void overwriteReplacesOnlyWhenAskedTo() throws IOException {
        String in = dir.resolve("qkv.safetensors").toUri().toString();
        SyntheticQkv.write(in, new Configuration(), 100, 2, 4, DType.F32, 5);
        String out = dir.resolve("out.safetensors").toUri().toString();
        attend(in, out, "16:1", false, 0);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> attend(in, out, "16:1", false, 0));
        assertEquals("output " + out + " exists: remove it, choose another path or pass --overwrite", e.getMessage());
        AttendJob.run(SPARK.session(), new AttendJob.Request(in, out, Branch.parseList("32:1"), null, false, 0, Backend.CPU,
                true), new PrintStream(new ByteArrayOutputStream()));
        assertArrayEquals(engine(in, "32:1", false).oArray(), readAll(out, "o"), "replaced by the new result");
    }

    static List<String> listing(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).sorted(Comparator.naturalOrder()).toList();
        }
    }
}
