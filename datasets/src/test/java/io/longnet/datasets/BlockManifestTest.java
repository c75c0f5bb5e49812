package io.longnet.datasets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The block manifest keeps its columns and properties in the order given: the same bytes on every run. */
class BlockManifestTest {

    @TempDir
    Path dir;

    @Test
    void columnsAndPropertiesKeepTheirOrderAndRoundTrip() throws IOException {
        Map<String, Integer> tensors = new LinkedHashMap<>();
        for (String name : List.of("v", "q", "lse", "k", "o", "hidden")) {
            tensors.put(name, name.length() * 8);
        }
        Map<String, String> properties = new LinkedHashMap<>();
        for (String key : List.of("longnet.z", "longnet.a", "longnet.m", "longnet.b")) {
            properties.put(key, key.toUpperCase());
        }
        BlockManifest manifest = new BlockManifest(5000, 4, 8, 256, tensors, properties);
        Path a = dir.resolve("a");
        Path b = dir.resolve("b");
        Files.createDirectories(a);
        Files.createDirectories(b);
        manifest.write(a.toString(), new Configuration());
        new BlockManifest(5000, 4, 8, 256, tensors, properties).write(b.toString(), new Configuration());
        byte[] bytes = Files.readAllBytes(a.resolve(BlockManifest.FILE));
        assertArrayEquals(bytes, Files.readAllBytes(b.resolve(BlockManifest.FILE)));
        String json = new String(bytes, java.nio.charset.StandardCharsets.UTF_8);
        int at = -1;
        for (String name : List.of("\"v\"", "\"q\"", "\"lse\"", "\"k\"", "\"o\"", "\"hidden\"", "\"longnet.z\"",
                "\"longnet.a\"", "\"longnet.m\"", "\"longnet.b\"")) {
            int next = json.indexOf(name);
            assertTrue(next > at, name + " out of order in " + json);
            at = next;
        }
        BlockManifest read = BlockManifest.read(a.toString(), new Configuration());
        assertEquals(manifest, read);
        assertEquals(List.copyOf(tensors.keySet()), List.copyOf(read.tensors().keySet()));
    }
}
