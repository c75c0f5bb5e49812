package io.longnet.storage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MappedRegionTest {

    @TempDir
    Path dir;

    @Test
    void writesLandAtTheirOffsetsLittleEndianAndReadsSeeThem() throws IOException {
        Path file = dir.resolve("f.bin");
        Files.write(file, new byte[64]);
        try (MappedRegion w = MappedRegion.write(file, 10, 8)) {
            assertEquals(ByteOrder.LITTLE_ENDIAN, w.bytes().order());
            w.bytes().asFloatBuffer().put(0, 1.0f).put(1, -2.0f);
        }
        byte[] bytes = Files.readAllBytes(file);
        assertArrayEquals(new byte[] {0, 0, (byte) 0x80, 0x3F, 0, 0, 0, (byte) 0xC0},
                java.util.Arrays.copyOfRange(bytes, 10, 18));
        assertEquals(64, bytes.length, "the file is not extended");
        try (MappedRegion r = MappedRegion.read(file, 14, 4)) {
            assertEquals(-2.0f, r.bytes().getFloat(0));
        }
    }

    @Test
    void aRegionBeyondTheFileIsRefusedNamingIt() throws IOException {
        Path file = dir.resolve("short.bin");
        Files.write(file, new byte[16]);
        IOException e = assertThrows(IOException.class, () -> MappedRegion.read(file, 8, 16));
        assertTrue(e.getMessage().contains("holds 16 bytes, cannot map bytes [8, 24)"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> MappedRegion.read(file, 0, 1L << 31));
    }

    @Test
    void bytesAfterCloseAreRefused() throws IOException {
        Path file = dir.resolve("g.bin");
        Files.write(file, new byte[8]);
        MappedRegion r = MappedRegion.read(file, 0, 8);
        r.close();
        r.close();
        assertThrows(IllegalStateException.class, r::bytes);
    }
}
