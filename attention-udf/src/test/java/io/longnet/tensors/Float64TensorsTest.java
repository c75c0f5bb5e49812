package io.longnet.tensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** F64 tensors (training checkpoints): written from and read into slices of flat double arrays. */
class Float64TensorsTest {

    @TempDir
    Path dir;

    private static final double[] SPECIAL = {-0.0, Double.MIN_VALUE, Double.MAX_VALUE, -Double.MIN_NORMAL, 1.0 / 3,
            Double.longBitsToDouble(0x7ff8_0000_0000_1234L), Double.NEGATIVE_INFINITY, 1e-310};

    @Test
    void f64RoundTripIsBitExact() throws IOException {
        long seed = 7;
        System.out.println("F64 round trip, seed " + seed);
        SplittableRandom rnd = new SplittableRandom(seed);
        double[] flat = new double[3 + SPECIAL.length + 1 + 20];
        for (int i = 0; i < flat.length; i++) {
            flat[i] = rnd.nextGaussian() * Math.pow(10, rnd.nextInt(-30, 30));
        }
        System.arraycopy(SPECIAL, 0, flat, 3, SPECIAL.length);
        List<Float64Tensors.Slice> out = List.of(
                new Float64Tensors.Slice("a", new int[] {3}, flat, 0),
                new Float64Tensors.Slice("special", new int[] {2, 4}, flat, 3),
                new Float64Tensors.Slice("scalar", new int[0], flat, 3 + SPECIAL.length),
                new Float64Tensors.Slice("empty", new int[] {0, 5}, flat, 0),
                new Float64Tensors.Slice("m.b", new int[] {4, 5}, flat, 4 + SPECIAL.length));
        Path file = dir.resolve("x.safetensors");
        Float64Tensors.write(file, out, Map.of("steps", "12"));

        String header = SafetensorsFile.headerText(file);
        assertTrue(header.startsWith("{\"__metadata__\":{\"steps\":\"12\"},\"a\":{\"dtype\":\"F64\",\"shape\":[3],"
                + "\"data_offsets\":[0,24]},\"special\":{\"dtype\":\"F64\",\"shape\":[2,4],\"data_offsets\":[24,88]}"), header);
        long headerLength = ByteBuffer.wrap(Files.readAllBytes(file), 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, (8 + headerLength) % 8, "data aligned to 8 bytes");
        assertEquals(8 + headerLength + 8L * (flat.length), Files.size(file));

        // Read back into a larger array at other offsets, in another order.
        double[] back = new double[flat.length + 5];
        List<Float64Tensors.Slice> in = List.of(
                new Float64Tensors.Slice("m.b", new int[] {4, 5}, back, 5 + 4 + SPECIAL.length),
                new Float64Tensors.Slice("scalar", new int[0], back, 5 + 3 + SPECIAL.length),
                new Float64Tensors.Slice("a", new int[] {3}, back, 5),
                new Float64Tensors.Slice("empty", new int[] {0, 5}, back, 0),
                new Float64Tensors.Slice("special", new int[] {2, 4}, back, 5 + 3));
        Map<String, String> metadata = Float64Tensors.read(file, in);
        assertEquals(Map.of("steps", "12"), metadata);
        for (int i = 0; i < flat.length; i++) {
            assertEquals(Double.doubleToRawLongBits(flat[i]), Double.doubleToRawLongBits(back[5 + i]), "element " + i);
        }
    }

    @Test
    void f64ReadChecksNamesShapesAndDtype() throws IOException {
        double[] data = {1, 2, 3, 4, 5, 6};
        Path file = dir.resolve("y.safetensors");
        Float64Tensors.write(file, List.of(new Float64Tensors.Slice("t", new int[] {2, 3}, data, 0)), Map.of());
        String source = "file " + file;
        double[] into = new double[6];
        assertEquals(source + ": missing tensor 'u'", assertThrows(TensorFormatException.class,
                () -> Float64Tensors.read(file, List.of(slice("t", 2, 3, into), slice("u", 0, 0, into))))
                .getMessage());
        assertEquals(source + ": tensor 't' has shape [2, 3], expected [3, 2]", assertThrows(TensorFormatException.class,
                () -> Float64Tensors.read(file, List.of(slice("t", 3, 2, into)))).getMessage());
        assertEquals(source + ": unexpected tensor 't'", assertThrows(TensorFormatException.class,
                () -> Float64Tensors.read(file, List.of())).getMessage());

        Path f32 = dir.resolve("f32.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(f32, List.of(SafetensorsWriter.Spec.of("t", DType.F32, 2, 3)),
                Map.of("format", "pt"))) {
            w.writeFloats(java.nio.FloatBuffer.wrap(new float[6]));
        }
        assertEquals("file " + f32 + ": tensor 't' has dtype F32; expected F64 (float64) tensors",
                assertThrows(TensorFormatException.class,
                        () -> Float64Tensors.read(f32, List.of(slice("t", 2, 3, into)))).getMessage());

        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.truncate(Files.size(file) - 3);
        }
        TensorFormatException cut = assertThrows(TensorFormatException.class,
                () -> Float64Tensors.read(file, List.of(slice("t", 2, 3, into))));
        assertTrue(cut.getMessage().startsWith(source + ": truncated: the header describes 48 data bytes, the file"
                + " holds 45"), cut.getMessage());
        assertTrue(cut.getMessage().endsWith("tensor 't' at data_offsets [0, 48] is the first one cut off"),
                cut.getMessage());
    }

    private static Float64Tensors.Slice slice(String name, int rows, int cols, double[] into) {
        return new Float64Tensors.Slice(name, new int[] {rows, cols}, into, 0);
    }
}
