package io.longnet.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The checked-in fatbin was built from the current CUDA sources (scripts/build-kernels.sh). */
class KernelArtifactTest {

    @Test
    void recordedSourceHashMatchesTheSources() throws IOException, NoSuchAlgorithmException {
        // Maven runs tests in the module folder; the device script from the repository root.
        Path sources = Files.isDirectory(Path.of("src/main/cuda")) ? Path.of("src/main/cuda")
                : Path.of("gpu-native/src/main/cuda");
        List<Path> files;
        try (Stream<Path> list = Files.list(sources)) {
            files = list.sorted((a, b) -> a.getFileName().toString().compareTo(b.getFileName().toString())).toList();
        }
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        for (Path f : files) {
            sha.update((f.getFileName() + "\n").getBytes(StandardCharsets.UTF_8));
            sha.update(Files.readAllBytes(f));
        }
        String recorded;
        try (InputStream in = CudaDevice.class.getResourceAsStream("dilated_attention.sources.sha256")) {
            recorded = new String(in.readAllBytes(), StandardCharsets.US_ASCII).trim();
        }
        assertEquals(recorded, HexFormat.of().formatHex(sha.digest()),
                "src/main/cuda changed since the fatbin was built: run gpu-native/scripts/build-kernels.sh");
    }

    @Test
    void theFatbinsAreEmbedded() {
        for (String module : List.of(CudaDevice.MODULE, CudaDevice.MODEL_MODULE)) {
            byte[] image = CudaDevice.moduleImage(module);
            // Fatbin magic 0xBA55ED50, little-endian.
            assertTrue(image.length > 1000, module + " size " + image.length);
            assertEquals(0x50, image[0] & 0xff);
            assertEquals(0xED, image[1] & 0xff);
            assertEquals(0x55, image[2] & 0xff);
            assertEquals(0xBA, image[3] & 0xff);
        }
    }
}
