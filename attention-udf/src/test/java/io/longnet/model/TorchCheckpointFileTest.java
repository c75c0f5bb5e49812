package io.longnet.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code torch.save} reader on a bare state dict as {@code module.state_dict()} gives it (an OrderedDict with
 * {@code _metadata}), written in torch's format by {@code make-bare-state-dict.py} beside the resource: a
 * float32 tensor, a transposed view sharing its storage (strides (1, 3)), and a float16 tensor at a storage offset.
 */
class TorchCheckpointFileTest {

    @TempDir
    Path dir;

    private Path resource(String name) throws IOException {
        Path file = dir.resolve(name);
        try (InputStream in = TorchCheckpointFileTest.class.getResourceAsStream(name)) {
            Files.copy(in, file);
        }
        return file;
    }

    @Test
    void bareStateDictWithViewsAndHalfPrecision() throws IOException {
        Object top = TorchCheckpointFile.read(resource("bare-state-dict.pt"));
        assertTrue(top instanceof TorchCheckpointFile.OrderedDict, String.valueOf(top));
        Map<?, ?> sd = (Map<?, ?>) top;
        assertEquals(List.of("a", "a_t", "h"), List.copyOf(sd.keySet()), "insertion order kept");
        ModelWeights.Tensor a = (ModelWeights.Tensor) sd.get("a");
        assertArrayEquals(new int[] {2, 3}, a.shape());
        assertArrayEquals(new float[] {-1, -0.5f, 0, 0.5f, 1, 1.5f}, a.data());
        ModelWeights.Tensor t = (ModelWeights.Tensor) sd.get("a_t");
        assertArrayEquals(new int[] {3, 2}, t.shape());
        assertArrayEquals(new float[] {-1, 0.5f, -0.5f, 1, 0, 1.5f}, t.data(), "read through the strides");
        ModelWeights.Tensor h = (ModelWeights.Tensor) sd.get("h");
        assertArrayEquals(new float[] {0.5f, -2, 1024, 3.25f}, h.data(), "float16 widened, from storage offset 1");
    }

    @Test
    void notAZipIsNamed() throws IOException {
        Path file = dir.resolve("x.pt");
        Files.writeString(file, "PK? no");
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> TorchCheckpointFile.read(file));
        assertTrue(e.getMessage().startsWith("checkpoint " + file + ": not a torch.save zip archive"), e.getMessage());
    }
}
