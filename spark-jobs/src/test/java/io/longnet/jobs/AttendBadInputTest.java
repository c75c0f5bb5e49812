package io.longnet.jobs;

import io.longnet.tensors.DType;
import io.longnet.tensors.SafetensorsFile;
import io.longnet.storage.HadoopSafetensors;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.attention.Backend;
import io.longnet.attention.Branch;
import io.longnet.datasets.SyntheticQkv;
import io.longnet.spark.SparkSessionExtension;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Each bad input to {@code longnet attend} ends in the one message a user sees (the CLI prints
 * {@code longnet attend: <message>} and exits 2) and leaves nothing in the output's directory: no output,
 * no hidden {@code .<name>.longnet-tmp-*} sibling.
 */
class AttendBadInputTest {

    @RegisterExtension
    static final SparkSessionExtension SPARK = new SparkSessionExtension();

    /** q, k, v of {@link #valid}: [N, H, d] = [256, 2, 4]. */
    static final int N = 256;
    static final int H = 2;
    static final int D = 4;
    static final int TENSOR_BYTES = 8 * H * D * Float.BYTES; // hand-made files: [8, 2, 4] F32

    @TempDir
    Path dir;

    /** Inputs live here; outputs go to {@link #outDir}, which must stay empty. */
    Path inDir;
    Path outDir;

    @BeforeEach
    void dirs() throws IOException {
        inDir = Files.createDirectory(dir.resolve("in"));
        outDir = Files.createDirectory(dir.resolve("out"));
    }

    // ---- inputs -----------------------------------------------------------------------------------

    /** A safetensors file by hand: the header as given, then {@code dataBytes} of random float32 data. */
    String raw(String name, String header, int dataBytes) throws IOException {
        byte[] json = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + json.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(json.length).put(json);
        // Fixed seed: the values only have to be finite and not all zero.
        SplittableRandom rnd = new SplittableRandom(17);
        while (b.remaining() >= 4) {
            b.putFloat((float) (rnd.nextDouble() * 2 - 1));
        }
        Path file = inDir.resolve(name);
        Files.write(file, b.array());
        return file.toUri().toString();
    }

    static String tensor(String name, String dtype, String shape, long begin, long end) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + begin
                + "," + end + "]}";
    }

    /** A valid random [256, 2, 4] F32 input. */
    String valid() throws IOException {
        long seed = 20261124L;
        System.out.println("AttendBadInputTest: valid input seed " + seed);
        String uri = inDir.resolve("qkv.safetensors").toUri().toString();
        SyntheticQkv.write(uri, new Configuration(), N, H, D, DType.F32, seed);
        return uri;
    }

    // ---- running ----------------------------------------------------------------------------------

    String out(String name) {
        return outDir.resolve(name).toUri().toString();
    }

    static AttendJob.Request request(String in, String out, String branches, Integer heads, int len) {
        return new AttendJob.Request(in, out, Branch.parseList(branches), heads, true, len, Backend.CPU, false);
    }

    /** Runs the job, which must fail on bad input; returns the message the CLI would print. */
    String failure(AttendJob.Request request) throws IOException {
        Exception e = assertThrows(Exception.class,
                () -> AttendJob.run(SPARK.session(), request, new PrintStream(new ByteArrayOutputStream())));
        Throwable user = Main.userError(e);
        assertNotNull(user, () -> "not recognised as bad input: " + e);
        String message = user.getMessage();
        assertEquals(1, message.lines().count(), () -> "one line: " + message);
        assertNothingWritten();
        return message;
    }

    void assertNothingWritten() throws IOException {
        assertEquals(List.of(), AttendJobTest.listing(outDir), "no output and no temporary files");
    }

    static void assertContains(String expected, String actual) {
        assertTrue(actual.contains(expected), () -> "expected '" + expected + "' in: " + actual);
    }

    // ---- header problems (found on the driver) ----------------------------------------------------

    @Test
    void missingTensorNamesIt() throws IOException {
        String in = raw("qk.safetensors", "{" + tensor("q", "F32", "[8,2,4]", 0, TENSOR_BYTES) + ","
                + tensor("k", "F32", "[8,2,4]", TENSOR_BYTES, 2 * TENSOR_BYTES) + "}", 2 * TENSOR_BYTES);
        assertEquals("file " + in + ": no tensor 'v' (has: q, k)",
                failure(request(in, out("o.safetensors"), "8:1", null, 0)));
    }

    @Test
    void shapeMismatchNamesTheTensorAndBothShapes() throws IOException {
        int kBytes = 8 * 2 * 5 * 4;
        String in = raw("mismatch.safetensors", "{" + tensor("q", "F32", "[8,2,4]", 0, TENSOR_BYTES) + ","
                + tensor("k", "F32", "[8,2,5]", TENSOR_BYTES, TENSOR_BYTES + kBytes) + ","
                + tensor("v", "F32", "[8,2,4]", TENSOR_BYTES + kBytes, 2 * TENSOR_BYTES + kBytes) + "}",
                2 * TENSOR_BYTES + kBytes);
        assertEquals("file " + in + ": tensor 'k': shape [8, 2, 5] differs from q's [8, 2, 4]",
                failure(request(in, out("o.safetensors"), "8:1", null, 0)));
    }

    @Test
    void wrongRankNamesTheTensor() throws IOException {
        String in = raw("rank.safetensors", "{" + tensor("q", "F32", "[8,8]", 0, TENSOR_BYTES) + ","
                + tensor("k", "F32", "[8,2,4]", TENSOR_BYTES, 2 * TENSOR_BYTES) + ","
                + tensor("v", "F32", "[8,2,4]", 2 * TENSOR_BYTES, 3 * TENSOR_BYTES) + "}", 3 * TENSOR_BYTES);
        assertEquals("file " + in + ": tensor 'q': shape [8, 8] is not [N, H, d]",
                failure(request(in, out("o.safetensors"), "8:1", null, 0)));
    }

    @Test
    void truncatedDataSaysTruncated() throws IOException {
        String header = "{" + tensor("q", "F32", "[8,2,4]", 0, TENSOR_BYTES) + ","
                + tensor("k", "F32", "[8,2,4]", TENSOR_BYTES, 2 * TENSOR_BYTES) + ","
                + tensor("v", "F32", "[8,2,4]", 2 * TENSOR_BYTES, 3 * TENSOR_BYTES) + "}";
        String in = raw("cut.safetensors", header, 3 * TENSOR_BYTES - 100);
        String message = failure(request(in, out("o.safetensors"), "8:1", null, 0));
        assertContains("file " + in + ": truncated: the header describes 768 data bytes, the file holds 668", message);
        assertContains("tensor 'v' at data_offsets [512, 768] is the first one cut off", message);
    }

    @Test
    void offsetsBeyondTheDataAreOutOfRange() throws IOException {
        // A hole between k and v: the offsets, not the file length, are wrong.
        String header = "{" + tensor("q", "F32", "[8,2,4]", 0, TENSOR_BYTES) + ","
                + tensor("k", "F32", "[8,2,4]", TENSOR_BYTES, 2 * TENSOR_BYTES) + ","
                + tensor("v", "F32", "[8,2,4]", 1000, 1000 + TENSOR_BYTES) + "}";
        String in = raw("offsets.safetensors", header, 3 * TENSOR_BYTES);
        assertEquals("file " + in + ": tensor 'v': data offsets out of range: [1000, 1256] but the data buffer"
                + " holds 768 bytes", failure(request(in, out("o.safetensors"), "8:1", null, 0)));
    }

    @Test
    void unknownDtypeIsUnsupported() throws IOException {
        String header = "{" + tensor("q", "I64", "[8,2,4]", 0, 2 * TENSOR_BYTES) + ","
                + tensor("k", "F32", "[8,2,4]", 2 * TENSOR_BYTES, 3 * TENSOR_BYTES) + ","
                + tensor("v", "F32", "[8,2,4]", 3 * TENSOR_BYTES, 4 * TENSOR_BYTES) + "}";
        String in = raw("i64.safetensors", header, 4 * TENSOR_BYTES);
        assertEquals("file " + in + ": tensor 'q': unsupported dtype 'I64' (supported: F32, F16, BF16, F64)",
                failure(request(in, out("o.safetensors"), "8:1", null, 0)));
    }

    @Test
    void missingInputFileNamesThePath() throws IOException {
        String in = inDir.resolve("missing.safetensors").toUri().toString();
        // Hadoop's own FileNotFoundException: one line with the path (as Hadoop prints it, file:/...).
        assertEquals("File " + new org.apache.hadoop.fs.Path(in) + " does not exist",
                failure(request(in, out("o.safetensors"), "8:1", null, 0)));
    }

    // ---- requests that do not fit the input -------------------------------------------------------

    @Test
    void headsNotMatchingTheFile() throws IOException {
        String in = valid();
        assertEquals("--heads 3 does not match the input's H = 2 (q, k, v are [256, 2, 4])",
                failure(request(in, out("o.safetensors"), "32:1", 3, 0)));
    }

    @Test
    void impossiblePartitionLengthNamesValidOnes() throws IOException {
        String in = valid();
        assertEquals("partition length 96 does not fit branch 64:1: L must divide or be a multiple of every"
                + " segment length; valid: 16, 32, 64, 128, 256, 512",
                failure(request(in, out("o.safetensors"), "64:1,256:2", null, 96)));
    }

    // ---- bad values (found by a task, not the first one) ------------------------------------------

    @ParameterizedTest(name = "output {0}")
    @ValueSource(strings = {"o.safetensors", "o-blocks"})
    void nanInALaterPartitionNamesTensorAndIndex(String output) throws IOException {
        String in = valid();
        // v[200, 1, 3] = NaN: with L = 32, row 200 is in partition 6 of 8, read by a later task.
        try (SafetensorsFile f = HadoopSafetensors.open(in, new Configuration());
             RandomAccessFile file = new RandomAccessFile(inDir.resolve("qkv.safetensors").toFile(), "rw")) {
            long element = (200L * H + 1) * D + 3;
            file.seek(f.dataStart() + f.tensor("v").begin() + element * Float.BYTES);
            file.writeInt(Integer.reverseBytes(Float.floatToRawIntBits(Float.NaN)));
        }
        assertEquals("file " + in + ": tensor 'v' holds NaN at [200, 1, 3]",
                failure(request(in, out(output), "32:1,64:2", null, 32)));
    }

    /**
     * A NaN read by a task that maps its rows of the file (every branch local, file to file) is named as the
     * rows path names it, whether a 16-bit kernel input (checked as the kernel widens it) or a float32 one.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"F16", "BF16", "F32"})
    void nanInAMappedPartitionNamesTensorAndIndex(String dtype) throws IOException {
        String in = inDir.resolve("qkv.safetensors").toUri().toString();
        DType type = DType.valueOf(dtype);
        SyntheticQkv.write(in, new Configuration(), N, H, D, type, 11);
        try (SafetensorsFile f = HadoopSafetensors.open(in, new Configuration());
             RandomAccessFile file = new RandomAccessFile(inDir.resolve("qkv.safetensors").toFile(), "rw")) {
            long element = (200L * H + 1) * D + 3;
            file.seek(f.dataStart() + f.tensor("k").begin() + element * type.bytes());
            if (type == DType.F32) {
                file.writeInt(Integer.reverseBytes(Float.floatToRawIntBits(Float.NaN)));
            } else {
                file.writeShort(Short.reverseBytes(type == DType.F16 ? (short) 0x7E00 : (short) 0x7FC0));
            }
        }
        assertEquals("file " + in + ": tensor 'k' holds NaN at [200, 1, 3]",
                failure(request(in, out("o.safetensors"), "32:1,64:2", null, 64)));
    }

    /**
     * Finite q and k of magnitude 1e20 overflow q·k: the job fails naming the first bad result and the cause,
     * by either data path, and writes nothing; asked to keep them, it writes them.
     */
    @ParameterizedTest(name = "L = {0}")
    @ValueSource(ints = {32, 64})
    void resultsThatOverflowFloat32AreRefusedUnlessKept(int len) throws IOException {
        float[] big = new float[N * H * D];
        SplittableRandom rnd = new SplittableRandom(3);
        for (int i = 0; i < big.length; i++) {
            big[i] = (float) ((rnd.nextDouble() + 0.5) * 1e20);
        }
        String in = inDir.resolve("big.safetensors").toUri().toString();
        try (io.longnet.tensors.SafetensorsWriter w = io.longnet.tensors.SafetensorsWriter.create(
                inDir.resolve("big.safetensors"), List.of(
                        io.longnet.tensors.SafetensorsWriter.Spec.of("q", DType.F32, N, H, D),
                        io.longnet.tensors.SafetensorsWriter.Spec.of("k", DType.F32, N, H, D),
                        io.longnet.tensors.SafetensorsWriter.Spec.of("v", DType.F32, N, H, D)), java.util.Map.of())) {
            for (int t = 0; t < 3; t++) {
                w.writeFloats(java.nio.FloatBuffer.wrap(big));
            }
        }
        String message = failure(request(in, out("o.safetensors"), "32:1,64:2", null, len));
        assertTrue(message.startsWith("result 'o' is NaN at position ") || message.startsWith("result 'o' is Infinity")
                || message.startsWith("result 'lse' is "), message);
        assertContains("overflowed float32", message);
        assertContains("--keep-non-finite", message);
        AttendJob.Request keep = new AttendJob.Request(in, out("o.safetensors"), Branch.parseList("32:1,64:2"), null,
                true, len, Backend.CPU, false, true);
        AttendJob.run(SPARK.session(), keep, new PrintStream(new ByteArrayOutputStream()));
        float[] o = AttendJobTest.readAll(out("o.safetensors"), "o");
        assertTrue(Float.isNaN(o[0]) || Float.isInfinite(o[0]), "position 0 kept as computed: " + o[0]);
    }

    // ---- bad flags, rejected by the CLI before any SparkSession ------------------------------------

    @Test
    void unparsableBranchesExitTwoWithOneLine() throws IOException {
        assertCliError(new String[] {"attend", "--qkv", inDir.resolve("none.safetensors").toString(),
                "--out", outDir.resolve("o.safetensors").toString(), "--branches", "2048:x"},
                "longnet attend: branch '2048:x': segment and dilation must be whole numbers, e.g. 2048:1");
    }

    @Test
    void unknownBackendExitsTwoWithOneLine() throws IOException {
        assertCliError(new String[] {"attend", "--qkv", inDir.resolve("none.safetensors").toString(),
                "--out", outDir.resolve("o.safetensors").toString(), "--branches", "2048:1", "--backend", "tpu"},
                "longnet attend: backend 'tpu': expected auto, cpu or gpu");
    }

    void assertCliError(String[] args, String line) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.execute(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        String stderr = err.toString(StandardCharsets.UTF_8);
        assertEquals(2, code, () -> "exit code; stderr: " + stderr);
        assertEquals(List.of(line), stderr.lines().toList(), "exactly one line on stderr");
        assertEquals("", out.toString(StandardCharsets.UTF_8), "nothing on stdout");
        assertNothingWritten();
    }
}
