package io.longnet.storage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.tensors.DType;
import io.longnet.tensors.SafetensorsFile;
import io.longnet.tensors.SafetensorsWriter;
import io.longnet.tensors.TensorFormatException;
import io.longnet.tensors.TensorInfo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileAlreadyExistsException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The one safetensors reader and writer, through the Hadoop adapter (local files by URI). */
class SafetensorsTest {

    private static final Configuration CONF = new Configuration();

    @TempDir
    Path dir;

    private String uri(String name) {
        return dir.resolve(name).toUri().toString();
    }

    // ---- files built by hand, independently of the writer ----

    /** 8-byte little-endian header length, the header, the data: the format by its definition. */
    private static byte[] rawFile(String headerJson, byte[] data) {
        byte[] header = headerJson.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(header.length).put(header).put(data).array();
    }

    private static byte[] f32le(float... values) {
        ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        return b.array();
    }

    private static byte[] u16le(int... bits) {
        ByteBuffer b = ByteBuffer.allocate(2 * bits.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : bits) {
            b.putShort((short) v);
        }
        return b.array();
    }

    private static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        ByteBuffer b = ByteBuffer.allocate(n);
        for (byte[] p : parts) {
            b.put(p);
        }
        return b.array();
    }

    private String put(String name, byte[] content) throws IOException {
        Files.write(dir.resolve(name), content);
        return uri(name);
    }

    private static float[] readAll(SafetensorsFile f, String name) throws IOException {
        TensorInfo t = f.tensor(name);
        FloatBuffer dst = FloatBuffer.allocate((int) t.elements());
        f.readRows(name, 0, (int) t.rows(), dst);
        assertFalse(dst.hasRemaining());
        return dst.array();
    }

    // ---- round trips ----

    private static final long[][] SHAPES = {{7, 3, 5}, {10}, {4, 1}, {}, {0, 5}, {1100, 500}, {3, 2, 2, 2}};

    /** Random non-zero values of the given significand width and exponent range, exact in the dtype. */
    private static float representable(SplittableRandom rnd, DType dtype) {
        int bits = dtype == DType.F32 ? 24 : dtype == DType.F16 ? 11 : 8;
        int minExp = dtype == DType.F32 ? -149 : dtype == DType.F16 ? -24 : -133;
        int maxExp = dtype == DType.F32 ? 100 : dtype == DType.F16 ? 5 : 100;
        float v = Math.scalb((float) rnd.nextInt(1, 1 << bits), rnd.nextInt(minExp, maxExp + 1));
        return rnd.nextBoolean() ? -v : v;
    }

    /** Random non-zero values within the dtype's normal range. */
    private static float normal(SplittableRandom rnd) {
        float v = Math.scalb((float) (1 + rnd.nextDouble()), rnd.nextInt(-12, 12));
        return rnd.nextBoolean() ? -v : v;
    }

    private String writeRandom(String name, DType dtype, float[][] values, boolean exact, long seed) throws IOException {
        SplittableRandom rnd = new SplittableRandom(seed);
        List<SafetensorsWriter.Spec> specs = new ArrayList<>();
        List<Float> all = new ArrayList<>();
        for (int i = 0; i < SHAPES.length; i++) {
            specs.add(SafetensorsWriter.Spec.of("t" + i, dtype, SHAPES[i]));
            values[i] = new float[(int) TensorInfo.product(SHAPES[i], 0)];
            for (int j = 0; j < values[i].length; j++) {
                values[i][j] = exact ? representable(rnd, dtype) : normal(rnd);
            }
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        meta.put("note", "quotes \" and \\ and é");
        String u = uri(name);
        try (SafetensorsWriter w = HadoopSafetensors.create(u, CONF, specs, meta)) {
            // Feed the concatenated values in random-sized pieces that cross tensor boundaries.
            int total = 0;
            for (float[] v : values) {
                total += v.length;
            }
            float[] flat = new float[total];
            int o = 0;
            for (float[] v : values) {
                System.arraycopy(v, 0, flat, o, v.length);
                o += v.length;
            }
            for (int at = 0; at < total; ) {
                int k = Math.min(total - at, rnd.nextInt(1, 40_000));
                FloatBuffer piece = FloatBuffer.wrap(flat, at, k);
                w.writeFloats(piece);
                assertEquals(at + k, piece.position());
                at += k;
            }
        }
        return u;
    }

    private void checkReadBack(String u, DType dtype, float[][] values, boolean exact, long seed) throws IOException {
        SplittableRandom rnd = new SplittableRandom(seed + 1);
        try (SafetensorsFile f = HadoopSafetensors.open(u, CONF)) {
            assertEquals(List.of("t0", "t1", "t2", "t3", "t4", "t5", "t6"), new ArrayList<>(f.tensors().keySet()));
            assertEquals("pt", f.metadata().get("format"));
            assertEquals("quotes \" and \\ and é", f.metadata().get("note"));
            assertEquals(0, f.dataStart() % 8, "data buffer 8-byte aligned");
            for (int i = 0; i < SHAPES.length; i++) {
                TensorInfo t = f.tensor("t" + i);
                assertEquals(dtype, t.dtype());
                assertArrayEquals(SHAPES[i], t.shape());
                // Read in row chunks of varying size, into a direct buffer for odd tensors.
                FloatBuffer dst = i % 2 == 0 ? FloatBuffer.allocate(values[i].length)
                        : ByteBuffer.allocateDirect(4 * values[i].length).asFloatBuffer();
                for (long row = 0; row < t.rows(); ) {
                    int n = (int) Math.min(t.rows() - row, rnd.nextInt(1, (int) Math.max(2, t.rows() / 2)));
                    f.readRows(t.name(), row, n, dst);
                    row += n;
                }
                assertFalse(dst.hasRemaining());
                dst.flip();
                double tolerance = dtype == DType.F32 ? 0 : dtype == DType.F16 ? 0x1p-11 : 0x1p-8;
                for (int j = 0; j < values[i].length; j++) {
                    float expected = values[i][j];
                    float actual = dst.get(j);
                    if (exact || dtype == DType.F32) {
                        assertEquals(expected, actual, "seed " + seed + ", " + t + ", element " + j);
                    } else {
                        assertTrue(Math.abs(actual - expected) <= Math.abs(expected) * tolerance,
                                "seed " + seed + ", " + t + ", element " + j + ": " + expected + " read as " + actual);
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void roundTripIsWithinPrecision(DType dtype) throws IOException {
        long seed = 1000 + dtype.ordinal();
        float[][] values = new float[SHAPES.length][];
        String u = writeRandom("p.safetensors", dtype, values, false, seed);
        checkReadBack(u, dtype, values, false, seed);
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void representableValuesRoundTripExactly(DType dtype) throws IOException {
        long seed = 2000 + dtype.ordinal();
        float[][] values = new float[SHAPES.length][];
        String u = writeRandom("e.safetensors", dtype, values, true, seed);
        checkReadBack(u, dtype, values, true, seed);
    }

    @Test
    void mixedDtypesAndEscapedNames() throws IOException {
        String name = "layers.0.\"attn\"\\q\u00e9";
        List<SafetensorsWriter.Spec> specs = List.of(
                SafetensorsWriter.Spec.of(name, DType.BF16, 2, 3),
                SafetensorsWriter.Spec.of("b", DType.F32, 3),
                SafetensorsWriter.Spec.of("c", DType.F16, 1, 1));
        String u = uri("m.safetensors");
        try (SafetensorsWriter w = HadoopSafetensors.create(u, CONF, specs, Map.of())) {
            w.writeFloats(FloatBuffer.wrap(new float[] {1, 2, 3, 4, 5, 6, 7.5f, -8, 9}));
            w.writeFloats(FloatBuffer.wrap(new float[] {0.5f}));
        }
        try (SafetensorsFile f = HadoopSafetensors.open(u, CONF)) {
            assertEquals(List.of(name, "b", "c"), new ArrayList<>(f.tensors().keySet()));
            assertTrue(f.metadata().isEmpty());
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, readAll(f, name));
            assertArrayEquals(new float[] {7.5f, -8, 9}, readAll(f, "b"));
            assertArrayEquals(new float[] {0.5f}, readAll(f, "c"));
            FloatBuffer row = FloatBuffer.allocate(3);
            f.readRows(name, 1, 1, row);
            assertArrayEquals(new float[] {4, 5, 6}, row.array());
        }
    }

    // ---- interop with the reference format ----

    @Test
    void readsAFileBuiltByHand() throws IOException {
        // Key order, whitespace and escapes as another writer might produce them; no padding.
        String header = "{\n  \"__metadata__\": {\"format\": \"pt\"},\n"
                + "  \"w\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24]},\n"
                + "  \"h\\u00e9\": {\"data_offsets\": [24, 32], \"shape\": [4], \"dtype\": \"F16\"},\n"
                + "  \"b\": {\"shape\": [2, 1], \"dtype\": \"BF16\", \"data_offsets\": [32, 36]},\n"
                + "  \"s\": {\"dtype\": \"F32\", \"shape\": [], \"data_offsets\": [36, 40]},\n"
                + "  \"z\": {\"dtype\": \"F32\", \"shape\": [0, 4], \"data_offsets\": [40, 40]}\n}";
        byte[] data = concat(
                f32le(1.5f, -2f, 3.25f, 0.1f, 1e-3f, 7f),
                u16le(0x3C00, 0xC000, 0x0001, 0x7BFF),
                u16le(0x3F80, 0x4049),
                f32le(42f));
        String u = put("hand.safetensors", rawFile(header, data));
        try (SafetensorsFile f = HadoopSafetensors.open(u, CONF)) {
            assertEquals(List.of("w", "h\u00e9", "b", "s", "z"), new ArrayList<>(f.tensors().keySet()));
            assertEquals(Map.of("format", "pt"), f.metadata());
            assertEquals(new TensorInfo("w", DType.F32, new long[] {2, 3}, 0, 24), f.tensor("w"));
            assertArrayEquals(new float[] {1.5f, -2f, 3.25f, 0.1f, 1e-3f, 7f}, readAll(f, "w"));
            assertArrayEquals(new float[] {1f, -2f, 0x1p-24f, 65504f}, readAll(f, "h\u00e9"));
            assertArrayEquals(new float[] {1f, 3.140625f}, readAll(f, "b"));
            TensorInfo s = f.tensor("s");
            assertEquals(1, s.elements());
            assertEquals(1, s.rows());
            assertArrayEquals(new float[] {42f}, readAll(f, "s"));
            assertEquals(0, f.tensor("z").elements());
            assertEquals(4, f.tensor("z").rowElements());
            FloatBuffer second = FloatBuffer.allocate(3);
            f.readRows("w", 1, 1, second);
            assertArrayEquals(new float[] {0.1f, 1e-3f, 7f}, second.array());
        }
    }

    @Test
    void writesTheReferenceLayoutByteForByte() throws IOException {
        // What the reference implementation writes for these tensors (compact JSON, __metadata__ first,
        // dtype/shape/data_offsets in that order, spaces up to an 8-byte boundary).
        String json = "{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"BF16\",\"shape\":[1,2],\"data_offsets\":[8,12]}}";
        String padded = json + " ".repeat((8 - json.length() % 8) % 8);
        byte[] expected = rawFile(padded, concat(f32le(1f, -0.5f), u16le(0x3F80, 0x4049)));

        String u = uri("ref.safetensors");
        try (SafetensorsWriter w = HadoopSafetensors.create(u, CONF,
                List.of(SafetensorsWriter.Spec.of("a", DType.F32, 2), SafetensorsWriter.Spec.of("b", DType.BF16, 1, 2)),
                Map.of("format", "pt"))) {
            w.writeFloats(FloatBuffer.wrap(new float[] {1f, -0.5f, 1f, (float) Math.PI}));
        }
        assertArrayEquals(expected, Files.readAllBytes(dir.resolve("ref.safetensors")));
    }

    // ---- validation on open ----

    private TensorFormatException openFails(String name, byte[] content) throws IOException {
        String u = put(name, content);
        TensorFormatException e = assertThrows(TensorFormatException.class, () -> HadoopSafetensors.open(u, CONF).close());
        assertTrue(e.getMessage().startsWith("file " + u + ": "), e.getMessage());
        return e;
    }

    private static void assertContains(String expected, String message) {
        assertTrue(message.contains(expected), "expected \"" + expected + "\" in: " + message);
    }

    private static String entry(String name, String dtype, String shape, long begin, long end) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":["
                + begin + "," + end + "]}";
    }

    @Test
    void rejectsFilesTooShortOrWithBadHeaderLength() throws IOException {
        assertContains("too short for a safetensors file: 5 bytes", openFails("short", new byte[5]).getMessage());

        byte[] big = ByteBuffer.allocate(18).order(ByteOrder.LITTLE_ENDIAN).putLong(1000).array();
        assertContains("header length 1000 bytes is larger than the file (18 bytes)",
                openFails("big", big).getMessage());

        byte[] huge = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(200_000_000L).array();
        assertContains("header length 200000000 bytes exceeds the limit", openFails("huge", huge).getMessage());

        byte[] negative = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(-1).array();
        assertContains("header length 18446744073709551615 bytes exceeds the limit",
                openFails("neg", negative).getMessage());
    }

    @Test
    void rejectsInvalidJson() throws IOException {
        assertContains("header is not valid JSON", openFails("j1", rawFile("{\"a\":", new byte[0])).getMessage());
        assertContains("header is not valid JSON", openFails("j2", rawFile("{} x", new byte[0])).getMessage());
        assertContains("header is not valid JSON", openFails("j3", rawFile(
                "{" + entry("a", "F32", "[1]", 0, 4) + "," + entry("a", "F32", "[1]", 4, 8) + "}",
                new byte[8])).getMessage());
        assertContains("header is not a JSON object", openFails("j4", rawFile("[1, 2]", new byte[0])).getMessage());
        assertContains("header is not a JSON object", openFails("j5", rawFile("", new byte[0])).getMessage());
        assertContains("__metadata__ must map strings to strings, but 'n' holds NUMBER",
                openFails("j6", rawFile("{\"__metadata__\":{\"n\":1}}", new byte[0])).getMessage());
    }

    @Test
    void rejectsIncompleteOrBadTensorEntries() throws IOException {
        byte[] data = new byte[24];
        assertEquals("tensor 'q': missing 'dtype'", detail(openFails("m1",
                rawFile("{\"q\":{\"shape\":[2,3],\"data_offsets\":[0,24]}}", data))));
        assertEquals("tensor 'q': missing 'shape'", detail(openFails("m2",
                rawFile("{\"q\":{\"dtype\":\"F32\",\"data_offsets\":[0,24]}}", data))));
        assertEquals("tensor 'q': missing 'data_offsets'", detail(openFails("m3",
                rawFile("{\"q\":{\"dtype\":\"F32\",\"shape\":[2,3]}}", data))));
        TensorFormatException e = openFails("m4", rawFile("{" + entry("q", "I64", "[3]", 0, 24) + "}", data));
        assertEquals("tensor 'q': unsupported dtype 'I64' (supported: F32, F16, BF16, F64)", detail(e));
        assertEquals("q", e.tensor());
        assertEquals("tensor 'q': shape [2, -1] has a negative dimension",
                detail(openFails("m5", rawFile("{" + entry("q", "F32", "[2,-1]", 0, 24) + "}", data))));
        assertContains("'shape' must be an array of integers",
                detail(openFails("m6", rawFile("{" + entry("q", "F32", "[2,1.5]", 0, 24) + "}", data))));
        assertEquals("tensor 'q': data_offsets [24, 0] begin after they end",
                detail(openFails("m7", rawFile("{" + entry("q", "F32", "[0]", 24, 0) + "}", data))));
        assertEquals("tensor 'q': shape [2, 3] of F32 needs 24 bytes, data_offsets give 20 ([0, 20])",
                detail(openFails("m8", rawFile("{" + entry("q", "F32", "[2,3]", 0, 20) + "}", data))));
        assertEquals("tensor 'q': shape [2, 3] of BF16 needs 12 bytes, data_offsets give 24 ([0, 24])",
                detail(openFails("m9", rawFile("{" + entry("q", "BF16", "[2,3]", 0, 24) + "}", data))));
    }

    private static String detail(TensorFormatException e) {
        return e.getMessage().substring(("file " + e.file() + ": ").length());
    }

    @Test
    void rejectsOverlapsOutOfRangeOffsetsAndTruncation() throws IOException {
        TensorFormatException overlap = openFails("o", rawFile(
                "{" + entry("a", "F32", "[4]", 0, 16) + "," + entry("b", "F32", "[4]", 8, 24) + "}", new byte[24]));
        assertEquals("tensors 'a' and 'b' overlap: data_offsets [0, 16] and [8, 24]", detail(overlap));

        // Offsets beyond anything the header itself accounts for: the offsets are wrong.
        TensorFormatException range = openFails("r", rawFile(
                "{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 100, 108) + "}", new byte[8]));
        assertEquals("tensor 'b': data offsets out of range: [100, 108] but the data buffer holds 8 bytes",
                detail(range));
        assertEquals("b", range.tensor());

        // A consistent header over a data buffer that stops short: the file was cut off.
        String header = "{" + entry("a", "F32", "[4]", 0, 16) + "," + entry("b", "F16", "[8]", 16, 32) + "}";
        TensorFormatException cut = openFails("t", rawFile(header, new byte[20]));
        assertContains("truncated", cut.getMessage());
        assertContains("tensor 'b' at data_offsets [16, 32]", cut.getMessage());
        assertEquals("b", cut.tensor());
        // The same file complete opens (and so does one with an extra byte the header does not use).
        HadoopSafetensors.open(put("t-ok", rawFile(header, new byte[32])), CONF).close();
        HadoopSafetensors.open(put("t-long", rawFile(header, new byte[33])), CONF).close();
    }

    @Test
    void namesTheTensorsAFileHasWhenOneIsMissing() throws IOException {
        String u = put("kv", rawFile("{" + entry("k", "F32", "[1]", 0, 4) + "," + entry("v", "F32", "[1]", 4, 8) + "}",
                new byte[8]));
        SafetensorsFile f = HadoopSafetensors.open(u, CONF);
        TensorFormatException e = assertThrows(TensorFormatException.class, () -> f.tensor("q"));
        assertEquals("file " + u + ": no tensor 'q' (has: k, v)", e.getMessage());
        assertThrows(TensorFormatException.class, () -> f.readRows("q", 0, 1, FloatBuffer.allocate(1)));
        IllegalArgumentException rows = assertThrows(IllegalArgumentException.class,
                () -> f.readRows("k", 0, 2, FloatBuffer.allocate(2)));
        assertContains("tensor 'k' has 1 rows, cannot read rows [0, 2)", rows.getMessage());
        assertThrows(IllegalArgumentException.class, () -> f.readRows("k", 0, 1, FloatBuffer.allocate(0)));
        f.close();
        assertThrows(IllegalStateException.class, () -> f.readRows("k", 0, 1, FloatBuffer.allocate(1)));
    }

    // ---- writer contract ----

    @Test
    void refusesToOverwriteUnlessAsked() throws IOException {
        String u = uri("o.safetensors");
        List<SafetensorsWriter.Spec> one = List.of(SafetensorsWriter.Spec.of("x", DType.F32, 1));
        try (SafetensorsWriter w = HadoopSafetensors.create(u, CONF, one, Map.of())) {
            w.writeFloats(FloatBuffer.wrap(new float[] {1}));
        }
        assertThrows(FileAlreadyExistsException.class, () -> HadoopSafetensors.create(u, CONF, one, Map.of()));
        try (SafetensorsWriter w = HadoopSafetensors.create(u, CONF, one, Map.of(), true)) {
            w.writeFloats(FloatBuffer.wrap(new float[] {2}));
        }
        try (SafetensorsFile f = HadoopSafetensors.open(u, CONF)) {
            assertArrayEquals(new float[] {2}, readAll(f, "x"));
        }
    }

    @Test
    void closeReportsAnIncompleteTensorAndRemovesTheFile() throws IOException {
        String u = uri("i.safetensors");
        SafetensorsWriter w = HadoopSafetensors.create(u, CONF, List.of(
                SafetensorsWriter.Spec.of("q", DType.F16, 2), SafetensorsWriter.Spec.of("o", DType.F32, 2, 3)), Map.of());
        w.writeFloats(FloatBuffer.wrap(new float[] {1, 2, 3, 4, 5}));
        IllegalArgumentException tooMany = assertThrows(IllegalArgumentException.class,
                () -> w.writeFloats(FloatBuffer.wrap(new float[4])));
        assertContains("4 floats given, but only 3 of 8 elements are left", tooMany.getMessage());
        TensorFormatException e = assertThrows(TensorFormatException.class, w::close);
        assertEquals("file " + u + ": tensor 'o' incomplete: wrote 3 of 6 elements", e.getMessage());
        assertFalse(Files.exists(dir.resolve("i.safetensors")));
        w.close(); // closing again is a no-op
    }

    @Test
    void rejectsDuplicateAndReservedNames() {
        String u = uri("n.safetensors");
        assertThrows(IllegalArgumentException.class, () -> HadoopSafetensors.create(u, CONF, List.of(
                SafetensorsWriter.Spec.of("a", DType.F32, 1), SafetensorsWriter.Spec.of("a", DType.F16, 1)), Map.of()));
        assertThrows(IllegalArgumentException.class, () -> HadoopSafetensors.create(u, CONF, List.of(
                SafetensorsWriter.Spec.of("__metadata__", DType.F32, 1)), Map.of()));
        assertThrows(IllegalArgumentException.class, () -> SafetensorsWriter.Spec.of("a", DType.F32, 2, -1));
        assertFalse(Files.exists(dir.resolve("n.safetensors")));
    }
}
