package io.longnet.jobs;

import io.longnet.attention.Backend;
import io.longnet.attention.Tensors;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.attention.AttentionResult;
import io.longnet.attention.Branch;
import io.longnet.attention.CpuAttentionKernel;
import io.longnet.attention.DilatedAttentionConfig;
import io.longnet.datasets.DType;
import io.longnet.datasets.SafetensorsFile;
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
        try (SafetensorsFile f = SafetensorsFile.open(uri, new Configuration())) {
            float[] out = new float[Math.toIntExact(f.tensor(tensor).elements())];
            f.readRows(tensor, 0, Math.toIntExact(f.tensor(tensor).rows()), FloatBuffer.wrap(out));
            return out;
        }
    }

    /** The single-process engine on the same (dtype-converted) inputs. */
    static AttentionResult engine(String qkv, String branches, boolean causal) throws IOException {
        float[] q = readAll(qkv, "q");
        try (SafetensorsFile f = SafetensorsFile.open(qkv, new Configuration())) {
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
