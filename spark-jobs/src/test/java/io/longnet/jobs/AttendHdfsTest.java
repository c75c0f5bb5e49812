package io.longnet.jobs;

import io.longnet.tensors.DType;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.attention.AttentionResult;
import io.longnet.attention.Backend;
import io.longnet.attention.Branch;
import io.longnet.datasets.SyntheticQkv;
import io.longnet.spark.SparkSessionExtension;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code longnet attend} with {@code hdfs://} input and output on an in-process one-datanode HDFS: the same
 * computation as on local files, bit for bit, written atomically (no temporaries left on HDFS).
 */
class AttendHdfsTest {

    @RegisterExtension
    static final SparkSessionExtension SPARK = new SparkSessionExtension();

    @TempDir
    static Path base;

    static MiniDFSCluster cluster;
    /** {@code hdfs://localhost:<port>}: host and port in the URI, so Spark's default configuration reaches it. */
    static String hdfs;

    @BeforeAll
    static void startHdfs() throws IOException {
        Configuration conf = new Configuration();
        conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, base.resolve("hdfs").toString());
        cluster = new MiniDFSCluster.Builder(conf).numDataNodes(1).build();
        cluster.waitActive();
        hdfs = "hdfs://localhost:" + cluster.getNameNodePort();
        // Test speed only: closing an HDFS file polls the namenode until the datanode has reported the
        // block, first after 400 ms by default, and each task closes two or more small files. The setting
        // must be in place when the (cached, JVM-wide) FileSystem for this URI is first created: here.
        Configuration sparkConf = SPARK.session().sparkContext().hadoopConfiguration();
        sparkConf.setInt("dfs.client.block.write.locateFollowingBlock.initial.delay.ms", 10);
        FileSystem.get(java.net.URI.create(hdfs), sparkConf);
    }

    @AfterAll
    static void stopHdfs() {
        if (cluster != null) {
            cluster.shutdown();
        }
    }

    static AttendJob.Request request(String in, String out) {
        return new AttendJob.Request(in, out, Branch.parseList("64:1,128:2,256:4"), 4, true, 64, Backend.CPU, false);
    }

    static void attend(AttendJob.Request request) throws IOException {
        AttendJob.run(SPARK.session(), request, new PrintStream(new ByteArrayOutputStream()));
    }

    @Test
    void hdfsInAndOutEqualsTheLocalRunExactly() throws IOException {
        int n = 1000;
        int heads = 4;
        int d = 16;
        long seed = 1124L;
        System.out.println("AttendHdfsTest: input seed " + seed);
        Configuration conf = new Configuration();
        String in = hdfs + "/in/qkv.safetensors";
        SyntheticQkv.write(in, conf, n, heads, d, DType.F32, seed);
        FileSystem fs = new org.apache.hadoop.fs.Path(hdfs + "/").getFileSystem(conf);

        // The same bytes on the local file system (raw: no .crc side file).
        Path local = base.resolve("local");
        String localIn = local.resolve("qkv.safetensors").toUri().toString();
        fs.copyToLocalFile(false, new org.apache.hadoop.fs.Path(in), new org.apache.hadoop.fs.Path(localIn), true);
        String localOut = local.resolve("out.safetensors").toUri().toString();
        attend(request(localIn, localOut));

        String out = hdfs + "/out/o.safetensors";
        String blocks = hdfs + "/out/blocks";
        attend(request(in, out));
        attend(request(in, blocks));

        float[] o = AttendJobTest.readAll(out, "o");
        float[] lse = AttendJobTest.readAll(out, "lse");
        assertArrayEquals(AttendJobTest.readAll(localOut, "o"), o, "o: HDFS run equals the local run");
        assertArrayEquals(AttendJobTest.readAll(localOut, "lse"), lse, "lse: HDFS run equals the local run");
        // Parts assembled by the driver (HDFS) and rows written in place by the tasks (local): the same data
        // bytes (the headers differ only in the source they name).
        byte[] hdfsBytes;
        try (var stream = fs.open(new org.apache.hadoop.fs.Path(out))) {
            hdfsBytes = stream.readAllBytes();
        }
        byte[] localBytes = java.nio.file.Files.readAllBytes(Path.of(java.net.URI.create(localOut)));
        int hdfsData = (int) dataStart(out, conf);
        int localData = (int) dataStart(localOut, conf);
        assertArrayEquals(Arrays.copyOfRange(localBytes, localData, localBytes.length),
                Arrays.copyOfRange(hdfsBytes, hdfsData, hdfsBytes.length), "the same data bytes");
        // And both are the attention: against the single-process engine.
        AttentionResult want = AttendJobTest.engine(localIn, "64:1,128:2,256:4", true);
        assertTrue(io.longnet.attention.Tensors.relativeError(o, want.oArray()) < 1e-5, "o against the engine");
        assertTrue(io.longnet.attention.Tensors.relativeError(lse, want.lseArray()) < 1e-5, "lse against the engine");

        // The Parquet block output on HDFS holds the same floats (B = 64: 16 rows; test-only collect).
        float[] po = new float[n * heads * d];
        float[] plse = new float[n * heads];
        List<Row> rows = SPARK.session().read().parquet(blocks).collectAsList();
        assertEquals(16, rows.size());
        for (Row r : rows) {
            int block = (int) r.getLong(r.fieldIndex("block"));
            copy((byte[]) r.get(r.fieldIndex("o")), po, block * 64 * heads * d);
            copy((byte[]) r.get(r.fieldIndex("lse")), plse, block * 64 * heads);
        }
        assertArrayEquals(o, po, "Parquet o equals safetensors o");
        assertArrayEquals(lse, plse, "Parquet lse equals safetensors lse");

        // Only the outputs in /out: no hidden .<name>.longnet-tmp-* siblings left behind.
        assertEquals(List.of("blocks", "o.safetensors"), names(fs.listStatus(new org.apache.hadoop.fs.Path(hdfs
                + "/out"))));
        assertTrue(Arrays.stream(fs.listStatus(new org.apache.hadoop.fs.Path(blocks)))
                        .noneMatch(s -> s.getPath().getName().startsWith("_temporary")),
                "no _temporary left in the Parquet output");
    }

    @Test
    void missingHdfsInputIsOneLineNamingThePath() throws IOException {
        String in = hdfs + "/in/missing.safetensors";
        String out = hdfs + "/missing-out/o.safetensors";
        Exception e = assertThrows(Exception.class, () -> attend(request(in, out)));
        Throwable user = Main.userError(e);
        assertNotNull(user, () -> "not recognised as bad input: " + e);
        assertEquals("File does not exist: " + in, user.getMessage());
        FileSystem fs = new org.apache.hadoop.fs.Path(hdfs + "/").getFileSystem(new Configuration());
        assertTrue(!fs.exists(new org.apache.hadoop.fs.Path(hdfs + "/missing-out"))
                || fs.listStatus(new org.apache.hadoop.fs.Path(hdfs + "/missing-out")).length == 0, "nothing written");
    }

    /** tokenize then score, hdfs:// in and out, equals the same pipeline on local files. */
    @Test
    void tokenizeThenScoreThroughHdfsEqualsTheLocalRun() throws Exception {
        FileSystem fs = cluster.getFileSystem();
        org.apache.hadoop.fs.Path corpus = new org.apache.hadoop.fs.Path(hdfs + "/corpus");
        fs.copyFromLocalFile(new org.apache.hadoop.fs.Path(java.nio.file.Path.of("../datasets/data/corpus-lines")
                .toAbsolutePath().toUri()), corpus);
        java.nio.file.Path model = base.resolve("score-model");
        io.longnet.model.LongNetModel.initialize(io.longnet.model.LongNetConfig.of(258, 16, 2, 1, 32, "8:1,16:2,32:4"), 4)
                .save(model);
        java.io.PrintStream quiet = new java.io.PrintStream(new java.io.ByteArrayOutputStream());
        io.longnet.datasets.TokenizeOptions options =
                io.longnet.datasets.TokenizeOptions.defaults(io.longnet.datasets.DocumentMode.LINE).withBlockSize(8);
        String local = base.resolve("local-pipeline").toUri().toString();
        io.longnet.datasets.TokenBlocks.write(SPARK.session(), java.nio.file.Path.of("../datasets/data/corpus-lines")
                .toAbsolutePath().toUri().toString(), local + "/tokens", options);
        ScoreJob.Summary onLocal = ScoreJob.run(SPARK.session(), new ScoreJob.Request(local + "/tokens", model.toString(),
                local + "/scores", false, 64, Backend.CPU, 1, null, false), quiet);
        io.longnet.datasets.TokenBlocks.write(SPARK.session(), corpus.toString(), hdfs + "/tokens", options);
        ScoreJob.Summary onHdfs = ScoreJob.run(SPARK.session(), new ScoreJob.Request(hdfs + "/tokens", model.toString(),
                hdfs + "/scores", false, 64, Backend.CPU, 1, null, false), quiet);
        assertTrue(onLocal.sequences() > 3 && onLocal.tokens() > 100, "a real corpus: " + onLocal);
        assertEquals(onLocal.sequences(), onHdfs.sequences());
        assertEquals(onLocal.tokens(), onHdfs.tokens());
        assertEquals(onLocal.meanNll(), onHdfs.meanNll(), 1e-9, "same scores");
        List<org.apache.spark.sql.Row> a = SPARK.session().read().parquet(local + "/scores/sequences").orderBy("seq_id")
                .collectAsList();
        List<org.apache.spark.sql.Row> b = SPARK.session().read().parquet(hdfs + "/scores/sequences").orderBy("seq_id")
                .collectAsList();
        assertEquals(a, b, "per-sequence scores");
    }

    private static List<String> names(FileStatus[] statuses) {
        return Arrays.stream(statuses).map(s -> s.getPath().getName()).sorted().toList();
    }

    private static long dataStart(String uri, Configuration conf) throws IOException {
        try (var f = io.longnet.storage.HadoopSafetensors.open(uri, conf)) {
            return f.dataStart();
        }
    }

    private static void copy(byte[] bytes, float[] dst, int at) {
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(dst, at, bytes.length / 4);
    }
}
