package io.longnet.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.attention.Backend;
import io.longnet.attention.CpuAttentionKernel;
import io.longnet.datasets.DocumentMode;
import io.longnet.datasets.TokenBlocks;
import io.longnet.datasets.TokenizeOptions;
import io.longnet.model.LongNetConfig;
import io.longnet.model.LongNetModel;
import io.longnet.spark.SparkSessionExtension;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.FileInputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** tokenize, then encode: the block layout and the Arrow export hold the single-process model's states. */
class EncodeJobTest {

    @RegisterExtension
    static final SparkSessionExtension SPARK = new SparkSessionExtension();

    @TempDir
    Path dir;

    @ParameterizedTest(name = "layer {0} (-1: final features)")
    @ValueSource(ints = {-1, 1})
    void hiddenStatesEqualTheSingleProcessModel(int layerOrFinal) throws Exception {
        Integer layer = layerOrFinal < 0 ? null : layerOrFinal;
        Path corpus = dir.resolve("corpus.txt");
        Files.writeString(corpus, "tiny\na line long enough to be spread over partitions of sixteen\nmid-sized line\n");
        String tokens = dir.resolve("tokens").toUri().toString();
        TokenBlocks.write(SPARK.session(), corpus.toUri().toString(), tokens,
                TokenizeOptions.defaults(DocumentMode.LINE).withBlockSize(8));
        LongNetModel model = LongNetModel.initialize(LongNetConfig.of(258, 16, 2, 2, 32, "8:1,16:2,32:4"), 9);
        model.save(dir.resolve("model"));
        String out = dir.resolve("encoded").toUri().toString();
        EncodeJob.run(SPARK.session(), new EncodeJob.Request(tokens, dir.resolve("model").toString(), out, layer, true,
                16, Backend.CPU, 1, null, false), new PrintStream(new ByteArrayOutputStream()));

        // Reference per sequence (test-only collects).
        Map<Long, TreeMap<Long, int[]>> blocks = new HashMap<>();
        for (Row r : TokenBlocks.read(SPARK.session(), tokens).collectAsList()) {
            List<Integer> list = r.getList(2);
            blocks.computeIfAbsent(r.getLong(0), k -> new TreeMap<>()).put(r.getLong(1),
                    list.stream().mapToInt(Integer::intValue).toArray());
        }
        Map<Long, float[]> want = new HashMap<>();
        try (CpuAttentionKernel kernel = new CpuAttentionKernel(1)) {
            for (var e : blocks.entrySet()) {
                int[] ids = e.getValue().values().stream().flatMapToInt(Arrays::stream).toArray();
                LongNetModel.Output o = model.forward(ids, kernel, layer != null);
                want.put(e.getKey(), layer == null ? o.features() : o.hiddenStates().get(layer));
            }
        }
        assertTrue(blocks.values().stream().anyMatch(b -> b.size() > 2), "one sequence is spread over partitions");
        int checked = 0;
        for (Row r : SPARK.session().read().parquet(out).collectAsList()) {
            float[] ref = want.get(r.getLong(0));
            float[] got = new float[((byte[]) r.get(2)).length / 4];
            ByteBuffer.wrap((byte[]) r.get(2)).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(got);
            int from = (int) r.getLong(1) * 8 * 16;
            for (int i = 0; i < got.length; i++) {
                assertEquals(ref[from + i], got[i], 1e-5 * Math.max(1, Math.abs(ref[from + i])), "seq " + r.getLong(0));
            }
            checked += got.length;
        }
        assertEquals(want.values().stream().mapToInt(a -> a.length).sum(), checked, "every position is written");

        // pyarrow.parquet.read_table(OUT), like Spark, reads every entry of OUT not starting with _ or .: each
        // must be a Parquet file (the Arrow files used to sit in OUT/arrow, which broke it).
        try (java.util.stream.Stream<Path> entries = Files.list(dir.resolve("encoded"))) {
            for (Path p : entries.filter(p -> !p.getFileName().toString().matches("[_.].*")).toList()) {
                assertTrue(Files.isRegularFile(p), p + " is a Parquet file, not a folder");
                byte[] bytes = Files.readAllBytes(p);
                String head = new String(bytes, 0, 4, java.nio.charset.StandardCharsets.US_ASCII);
                String tail = new String(bytes, bytes.length - 4, 4, java.nio.charset.StandardCharsets.US_ASCII);
                assertEquals("PAR1 PAR1", head + " " + tail, p + " is a Parquet file");
            }
        }
        int arrowRows = 0;
        File[] arrowFiles = dir.resolve("encoded").resolve(EncodeJob.ARROW_DIR).toFile()
                .listFiles((d, name) -> name.endsWith(".arrow"));
        assertTrue(arrowFiles != null && arrowFiles.length > 0, "Arrow files in OUT/" + EncodeJob.ARROW_DIR);
        for (File f : arrowFiles) {
            try (RootAllocator allocator = new RootAllocator();
                 FileInputStream in = new FileInputStream(f);
                 ArrowFileReader reader = new ArrowFileReader(in.getChannel(), allocator)) {
                while (reader.loadNextBatch()) {
                    VectorSchemaRoot root = reader.getVectorSchemaRoot();
                    BigIntVector seq = (BigIntVector) root.getVector("seq_id");
                    BigIntVector pos = (BigIntVector) root.getVector("position");
                    Float4Vector values = (Float4Vector) ((FixedSizeListVector) root.getVector("hidden")).getDataVector();
                    for (int i = 0; i < root.getRowCount(); i++) {
                        float[] ref = want.get(seq.get(i));
                        for (int c = 0; c < 16; c++) {
                            float expected = ref[(int) pos.get(i) * 16 + c];
                            assertEquals(expected, values.get(i * 16 + c), 1e-5 * Math.max(1, Math.abs(expected)));
                        }
                    }
                    arrowRows += root.getRowCount();
                }
            }
        }
        assertEquals(checked / 16, arrowRows, "one Arrow row per position");
    }
}
