package io.longnet.datasets;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Writes a seeded text corpus with long-range dependencies, for comparing attention patterns at equal
 * compute (docs/EXPERIMENTS.md). Each document mixes
 * <ul>
 *   <li>prose from a sparse first-order Markov chain over invented words (local structure any attention
 *   learns), and</li>
 *   <li>facts {@code #key = value.} and, later in the same document at any distance, recalls
 *   {@code #key ? value.}: the value's letters can be predicted only by attending back to where the key
 *   was defined, often thousands of tokens earlier.</li>
 * </ul>
 * One document per file, ASCII, {@code doc-00000.txt} onwards.
 */
public final class SyntheticCorpus {

    private static final String LETTERS = "abcdefghijklmnopqrstuvwxyz";
    private static final int WORDS = 400;
    private static final int SUCCESSORS = 4;

    private SyntheticCorpus() {
    }

    /** Writes {@code documents} files of about {@code bytes} characters each into {@code dir}. */
    public static void write(Path dir, int documents, int bytes, long seed) throws IOException {
        if (documents < 1) {
            throw new IllegalArgumentException("documents must be >= 1 (got " + documents + ")");
        }
        if (bytes < 64) {
            throw new IllegalArgumentException("bytes per document must be >= 64 (got " + bytes + ")");
        }
        if (Files.exists(dir)) {
            throw new IllegalArgumentException("output " + dir + " exists: remove it or choose another path");
        }
        SplittableRandom random = new SplittableRandom(seed);
        String[] words = new String[WORDS];
        for (int i = 0; i < WORDS; i++) {
            words[i] = word(random, 2 + random.nextInt(6));
        }
        int[][] next = new int[WORDS][SUCCESSORS];
        for (int[] row : next) {
            for (int j = 0; j < SUCCESSORS; j++) {
                row[j] = random.nextInt(WORDS);
            }
        }
        Path tmp = dir.resolveSibling("." + dir.getFileName() + ".tmp-" + Long.toHexString(random.nextLong()));
        Files.createDirectories(tmp);
        for (int d = 0; d < documents; d++) {
            Files.writeString(tmp.resolve(String.format(Locale.ROOT, "doc-%05d.txt", d)),
                    document(random, words, next, bytes), StandardCharsets.US_ASCII);
        }
        Files.move(tmp, dir);
    }

    private static String document(SplittableRandom random, String[] words, int[][] next, int bytes) {
        StringBuilder text = new StringBuilder(bytes + 64);
        List<String[]> facts = new ArrayList<>();
        int word = random.nextInt(WORDS);
        while (text.length() < bytes) {
            double u = random.nextDouble();
            if (u < 0.06 || facts.isEmpty()) {
                String[] fact = {word(random, 4), word(random, 6)};
                facts.add(fact);
                text.append('#').append(fact[0]).append(" = ").append(fact[1]).append(".\n");
            } else if (u < 0.22) {
                String[] fact = facts.get(random.nextInt(facts.size()));
                text.append('#').append(fact[0]).append(" ? ").append(fact[1]).append(".\n");
            } else {
                int length = 4 + random.nextInt(8);
                for (int i = 0; i < length; i++) {
                    text.append(words[word]).append(i + 1 < length ? ' ' : '.');
                    word = next[word][random.nextInt(SUCCESSORS)];
                }
                text.append(random.nextInt(4) == 0 ? '\n' : ' ');
            }
        }
        return text.toString();
    }

    private static String word(SplittableRandom random, int length) {
        char[] c = new char[length];
        for (int i = 0; i < length; i++) {
            c[i] = LETTERS.charAt(random.nextInt(LETTERS.length()));
        }
        return new String(c);
    }
}
