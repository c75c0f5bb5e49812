package io.longnet.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelWeightsTest {

    @TempDir
    Path dir;

    private static LongNetConfig tiny() {
        return LongNetConfig.of(50, 16, 2, 2, 32, "8:1,16:2");
    }

    @Test
    void saveLoadRoundTripIsBitExact() throws IOException {
        ModelWeights w = TestWeights.random(tiny(), 1);
        // Values a lossy writer would change: -0, subnormals, extremes.
        w.put("special", new int[] {2, 3}, new float[] {-0f, Float.MIN_VALUE, Float.MAX_VALUE, -Float.MIN_NORMAL,
                1e-40f, 0.1f});
        w.put("scalar", new int[0], new float[] {7f});
        w.put("empty", new int[] {0, 4}, new float[0]);
        Path file = dir.resolve("w.safetensors");
        w.save(file);
        ModelWeights back = ModelWeights.load(file);
        assertTrue(w.sameAs(back));
        assertEquals(List.copyOf(w.names()), List.copyOf(back.names()));
        assertArrayEquals(new int[] {2, 3}, back.shape("special"));
        assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(back.data("special")[0]));
        // The data start at a multiple of 8 bytes, as the reference writer pads the header.
        long headerLength = ByteBuffer.wrap(Files.readAllBytes(file), 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, (8 + headerLength) % 8);
        String header = io.longnet.tensors.SafetensorsFile.headerText(file);
        assertTrue(header.startsWith("{\"__metadata__\":{\"format\":\"pt\"},\"embed_tokens.weight\":{\"dtype\":\"F32\","
                + "\"shape\":[50,16],\"data_offsets\":[0,3200]}"), header);
    }

    /** Writes a safetensors file by hand: header JSON and raw data bytes. */
    private Path file(String name, String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        Path f = dir.resolve(name);
        Files.write(f, b.array());
        return f;
    }

    private static byte[] shorts(int... values) {
        ByteBuffer b = ByteBuffer.allocate(2 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : values) {
            b.putShort((short) v);
        }
        return b.array();
    }

    @Test
    void readsHalfAndBfloat16Exactly() throws IOException {
        byte[] data = new byte[12 + 8];
        // F16: 1, -2, 1/3 rounded (0x3555), smallest subnormal 2^-24, largest 65504, -inf.
        System.arraycopy(shorts(0x3C00, 0xC000, 0x3555, 0x0001, 0x7BFF, 0xFC00), 0, data, 0, 12);
        // BF16: 1, -3, 2^-133 (subnormal), 3.140625.
        System.arraycopy(shorts(0x3F80, 0xC040, 0x0001, 0x4049), 0, data, 12, 8);
        Path f = file("half.safetensors", "{\"h\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[0,12]},"
                + "\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[12,20]}}", data);
        ModelWeights w = ModelWeights.load(f);
        assertArrayEquals(new float[] {1f, -2f, 0.333251953125f, 0x1p-24f, 65504f, Float.NEGATIVE_INFINITY},
                w.data("h"));
        assertArrayEquals(new float[] {1f, -3f, Float.intBitsToFloat(0x00010000), 3.140625f}, w.data("b"));
    }

    private ModelFormatException loadError(Path f) {
        return assertThrows(ModelFormatException.class, () -> ModelWeights.load(f));
    }

    @Test
    void malformedFilesGiveClearErrors() throws IOException {
        Path shortFile = dir.resolve("short.safetensors");
        Files.write(shortFile, new byte[] {1, 2, 3});
        assertEquals("model weights " + shortFile + ": too short for a safetensors file: 3 bytes, but the header "
                + "length alone takes 8", loadError(shortFile).getMessage());

        Path notJson = file("nj.safetensors", "{\"a\": [1,}", new byte[0]);
        assertTrue(loadError(notJson).getMessage().startsWith("model weights " + notJson
                + ": header is not valid JSON at header byte 9: Unexpected character ('}'"),
                loadError(notJson).getMessage());

        Path f64 = file("f64.safetensors", "{\"x\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", new byte[8]);
        assertEquals("model weights " + f64 + ": tensor 'x' has dtype F64; model weights must be F32, F16 or BF16 "
                + "(the half types are widened to float)", loadError(f64).getMessage());

        Path sizes = file("sz.safetensors", "{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", new byte[8]);
        assertEquals("model weights " + sizes + ": tensor 'x': shape [3] of F32 needs 12 bytes, data_offsets give 8 "
                + "([0, 8])", loadError(sizes).getMessage());

        Path cut = file("cut.safetensors", "{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", new byte[10]);
        assertEquals("model weights " + cut + ": truncated: the header describes 16 data bytes, the file holds 10 ("
                + Files.size(cut) + " bytes in all, " + (Files.size(cut) + 6) + " expected); tensor 'x' at data_offsets"
                + " [0, 16] is the first one cut off", loadError(cut).getMessage());

        Path overlap = file("ov.safetensors", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"y\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", new byte[12]);
        assertEquals("model weights " + overlap + ": tensors 'x' and 'y' overlap: data_offsets [0, 8] and [4, 12]",
                loadError(overlap).getMessage());

        Path huge = dir.resolve("huge.safetensors");
        Files.write(huge, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1000).array());
        assertEquals("model weights " + huge + ": header length 1000 bytes is larger than the file (16 bytes); "
                + "truncated or not a safetensors file?", loadError(huge).getMessage());

        Path dup = file("dup.safetensors", "{\"x\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
                + "\"x\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", new byte[0]);
        assertTrue(loadError(dup).getMessage().contains("Duplicate field 'x'"), loadError(dup).getMessage());
    }

    @Test
    void validationNamesEachProblem() {
        LongNetConfig config = tiny();
        ModelWeights w = TestWeights.random(config, 2);
        assertTrue(w.problems(config.tensorShapes()).isEmpty());

        ModelWeights shape = w.copy().put("layers.1.self_attn.q_proj.weight", new int[] {16, 8}, new float[128]);
        assertEquals(List.of("tensor 'layers.1.self_attn.q_proj.weight' has shape [16, 8], expected [16, 16]"),
                shape.problems(config.tensorShapes()));

        float[] bad = w.data("layers.0.ffn.fc2.weight").clone();
        bad[2 * 32 + 5] = Float.NaN;
        ModelWeights nan = w.copy().put("layers.0.ffn.fc2.weight", new int[] {16, 32}, bad);
        assertEquals(List.of("tensor 'layers.0.ffn.fc2.weight' holds NaN at [2, 5]"), nan.problems(config.tensorShapes()));

        ModelWeights extra = w.copy().put("foo", new int[] {1}, new float[1]);
        ModelFormatException e = assertThrows(ModelFormatException.class,
                () -> extra.validate("model weights x", config.tensorShapes(), null));
        assertEquals("model weights x: unexpected tensor 'foo'", e.getMessage());
    }
}
