package io.longnet.jobs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.apache.spark.sql.SparkSession;

/**
 * Test-only: what two runs' outputs must share: every file byte for byte, except Parquet part files (named
 * by the run that wrote them), whose datasets are compared by content, rows sorted; and the timings in a
 * training run's {@code log.csv} and {@code training.json}.
 */
final class OutputContent {

    private static final ObjectMapper JSON = new ObjectMapper();

    private OutputContent() {
    }

    static void assertSame(SparkSession spark, Path expected, Path actual) throws IOException {
        TreeMap<String, byte[]> want = files(expected);
        TreeMap<String, byte[]> got = files(actual);
        assertEquals(want.keySet(), got.keySet(), "the files of " + actual);
        for (String name : want.keySet()) {
            if (name.endsWith("/*.parquet")) {
                assertEquals(rows(spark, expected.resolve(name).getParent()), rows(spark, actual.resolve(name).getParent()),
                        "the rows of " + name);
            } else {
                assertArrayEquals(want.get(name), got.get(name), name + " differs");
            }
        }
    }

    /** Relative name to canonical bytes; a folder's Parquet part files as one entry, {@code DIR/*.parquet}. */
    private static TreeMap<String, byte[]> files(Path root) throws IOException {
        TreeMap<String, byte[]> found = new TreeMap<>();
        if (Files.isRegularFile(root)) {
            found.put("", Files.readAllBytes(root));
            return found;
        }
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                String name = root.relativize(p).toString();
                String file = p.getFileName().toString();
                if (file.startsWith(".") || file.equals("_SUCCESS")) {
                    continue;
                }
                if (file.startsWith("part-") && file.endsWith(".parquet")) {
                    Path folder = root.relativize(p.getParent());
                    found.put((folder.toString().isEmpty() ? "" : folder + "/") + "*.parquet", new byte[0]);
                } else {
                    found.put(name, canonical(file, Files.readAllBytes(p)));
                }
            }
        }
        return found;
    }

    /** The file's bytes without its timings. */
    private static byte[] canonical(String file, byte[] bytes) throws IOException {
        if (file.equals("log.csv")) {
            StringBuilder kept = new StringBuilder();
            for (String line : new String(bytes, StandardCharsets.UTF_8).split("\n")) {
                kept.append(line, 0, line.lastIndexOf(',')).append('\n'); // tokens_per_second
            }
            return kept.toString().getBytes(StandardCharsets.UTF_8);
        }
        if (file.equals("training.json")) {
            ObjectNode report = (ObjectNode) JSON.readTree(bytes);
            report.remove(List.of("seconds", "train_tokens_per_second"));
            return JSON.writeValueAsBytes(report);
        }
        return bytes;
    }

    /** A Parquet dataset's rows as JSON lines (binary columns in base64), sorted. */
    private static List<String> rows(SparkSession spark, Path folder) {
        List<String> rows = new ArrayList<>(spark.read().parquet(folder.toUri().toString()).toJSON().collectAsList());
        rows.sort(null);
        return rows;
    }
}
