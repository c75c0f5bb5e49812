package io.longnet.datasets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The synthetic corpus: seeded, sized, and every recall names the value its key was defined with, earlier. */
class SyntheticCorpusTest {

    @TempDir
    Path dir;

    @Test
    void recallsRepeatEarlierDefinitions() throws Exception {
        SyntheticCorpus.write(dir.resolve("a"), 3, 4000, 5);
        SyntheticCorpus.write(dir.resolve("b"), 3, 4000, 5);
        SyntheticCorpus.write(dir.resolve("c"), 3, 4000, 6);
        Pattern line = Pattern.compile("#([a-z]{4}) ([=?]) ([a-z]{6})\\.");
        int recalls = 0;
        long farthest = 0;
        for (int d = 0; d < 3; d++) {
            String name = String.format("doc-%05d.txt", d);
            String text = Files.readString(dir.resolve("a").resolve(name));
            assertEquals(text, Files.readString(dir.resolve("b").resolve(name)), "same seed, same text");
            assertNotEquals(text, Files.readString(dir.resolve("c").resolve(name)), "another seed, another text");
            assertTrue(text.length() >= 4000 && text.length() < 4100, "length " + text.length());
            Map<String, String> defined = new HashMap<>();
            Map<String, Integer> where = new HashMap<>();
            Matcher m = line.matcher(text);
            while (m.find()) {
                if (m.group(2).equals("=")) {
                    defined.put(m.group(1), m.group(3));
                    where.put(m.group(1), m.start());
                } else {
                    recalls++;
                    assertEquals(defined.get(m.group(1)), m.group(3), "recall of #" + m.group(1) + " in " + name);
                    farthest = Math.max(farthest, m.start() - where.get(m.group(1)));
                }
            }
        }
        assertTrue(recalls > 20, recalls + " recalls");
        assertTrue(farthest > 1000, "some recall lies " + farthest + " characters after its definition");
        assertThrows(IllegalArgumentException.class, () -> SyntheticCorpus.write(dir.resolve("a"), 1, 100, 1));
    }
}
