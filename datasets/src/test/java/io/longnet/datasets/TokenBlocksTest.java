package io.longnet.datasets;

import io.longnet.tensors.TensorFormatException;
import static io.longnet.datasets.CorpusReaderTest.uri;
import static io.longnet.datasets.CorpusReaderTest.write;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.spark.SparkSessionExtension;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Corpus to token blocks and back: every sequence reassembled from its blocks equals the tokens of the
 * documents computed here independently (plain byte splitting, the JDK's UTF-8 decoder, the tokenizer
 * called directly).
 */
class TokenBlocksTest {

    @RegisterExtension
    static final SparkSessionExtension SPARK = new SparkSessionExtension();

    @TempDir
    Path dir;

    /** A document as the test expects it: where it is, its text, its replaced sequences. */
    record Expected(String path, long line, String text, int replaced) {
    }

    /** Random lines: words, accented and non-Latin letters, some invalid bytes, blank lines, CRLF. */
    static byte[] randomLines(SplittableRandom rnd, int lines) {
        String[] words = {"the", "lamp", "river", "café", "naïve", "東京", "Ελλάδα", "🌧️", "x", "bread", "\t"};
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < lines; i++) {
            int kind = rnd.nextInt(10);
            if (kind == 0) {
                out.writeBytes(rnd.nextBoolean() ? new byte[0] : "  \t".getBytes(StandardCharsets.UTF_8));
            } else {
                int n = 1 + rnd.nextInt(kind == 9 ? 60 : 8);
                for (int w = 0; w < n; w++) {
                    out.writeBytes((w > 0 ? " " : "").getBytes(StandardCharsets.UTF_8));
                    out.writeBytes(words[rnd.nextInt(words.length)].getBytes(StandardCharsets.UTF_8));
                    if (rnd.nextInt(25) == 0) {
                        out.write(rnd.nextBoolean() ? 0xFF : 0xC3);   // invalid UTF-8
                    }
                }
            }
            out.writeBytes(rnd.nextInt(4) == 0 ? new byte[] {'\r', '\n'} : new byte[] {'\n'});
        }
        return out.toByteArray();
    }

    /** The reference reading of line-per-document files: split bytes at \n, drop \r, JDK decoding. */
    static List<Expected> expectedLines(List<Path> files, int[] emptyOut) throws IOException {
        List<Expected> docs = new ArrayList<>();
        for (Path f : files) {
            byte[] bytes = readMaybeGzip(f);
            int start = 0;
            long line = 0;
            while (start < bytes.length) {
                int end = start;
                while (end < bytes.length && bytes[end] != '\n') {
                    end++;
                }
                int stop = end > start && bytes[end - 1] == '\r' ? end - 1 : end;
                line++;
                byte[] lineBytes = Arrays.copyOfRange(bytes, start, stop);
                String text = new String(lineBytes, StandardCharsets.UTF_8);
                int replaced = (int) text.chars().filter(c -> c == 0xFFFD).count();
                if (text.isBlank()) {
                    emptyOut[0]++;
                } else {
                    docs.add(new Expected(uri(f), line, text, replaced));
                }
                start = end + 1;
            }
        }
        return docs;
    }

    static byte[] readMaybeGzip(Path f) throws IOException {
        try (InputStream in = f.toString().endsWith(".gz") ? new GZIPInputStream(Files.newInputStream(f))
                : Files.newInputStream(f)) {
            return in.readAllBytes();
        }
    }

    /**
     * The sequences of a token dataset, each reassembled from its blocks, checking the block layout: blocks
     * 0..k-1 present once each, all of B tokens but the last (1..B).
     */
    static Map<Long, int[]> sequences(String out, int b) throws IOException {
        TreeMap<Long, TreeMap<Long, int[]>> bySeq = new TreeMap<>();
        for (Row r : TokenBlocks.read(SPARK.session(), out).collectAsList()) {
            List<Integer> list = r.getList(2);
            int[] tokens = new int[list.size()];
            for (int i = 0; i < tokens.length; i++) {
                tokens[i] = list.get(i);
            }
            int[] before = bySeq.computeIfAbsent(r.getLong(0), k -> new TreeMap<>()).put(r.getLong(1), tokens);
            assertEquals(null, before, "block " + r.getLong(1) + " of sequence " + r.getLong(0) + " twice");
        }
        Map<Long, int[]> out2 = new TreeMap<>();
        bySeq.forEach((seq, blocks) -> {
            assertEquals(blocks.size() - 1, blocks.lastKey(), "sequence " + seq + ": blocks 0.." + blocks.lastKey());
            int total = 0;
            for (var e : blocks.entrySet()) {
                int len = e.getValue().length;
                boolean last = e.getKey() == blocks.size() - 1;
                assertTrue(last ? len >= 1 && len <= b : len == b,
                        "sequence " + seq + " block " + e.getKey() + " has " + len + " tokens, B = " + b);
                total += len;
            }
            int[] all = new int[total];
            int at = 0;
            for (int[] t : blocks.values()) {
                System.arraycopy(t, 0, all, at, t.length);
                at += t.length;
            }
            out2.put(seq, all);
        });
        return out2;
    }

    static List<Row> index(String out) throws IOException {
        return TokenBlocks.documents(SPARK.session(), out).orderBy("doc").collectAsList();
    }

    static int[] bytesOf(String text) {
        return new ByteTokenizer().encode(text);
    }

    private List<Path> randomCorpus(long seed, int files) throws IOException {
        SplittableRandom rnd = new SplittableRandom(seed);
        List<Path> paths = new ArrayList<>();
        for (int i = 0; i < files; i++) {
            String name = String.format("corpus/f%02d.txt%s", i, i % 3 == 1 ? ".gz" : "");
            paths.add(write(dir.resolve(name), randomLines(rnd, rnd.nextInt(12))));
        }
        return paths;
    }

    @Test
    void oneSequencePerDocumentRoundTrips() throws IOException {
        long seed = 11;
        System.out.println("seed " + seed);
        List<Path> files = randomCorpus(seed, 7);
        int[] empty = {0};
        List<Expected> want = expectedLines(files, empty);
        String out = uri(dir.resolve("tokens"));
        TokenizeResult result = TokenBlocks.write(SPARK.session(), uri(dir.resolve("corpus")), out,
                TokenizeOptions.defaults(DocumentMode.LINE).withBlockSize(5).withPartitions(3));

        Map<Long, int[]> seqs = sequences(out, 5);
        assertEquals(want.size(), seqs.size());
        long tokens = 0;
        List<Row> rows = index(out);
        for (int d = 0; d < want.size(); d++) {
            Expected e = want.get(d);
            int[] ids = bytesOf(e.text());
            assertArrayEquals(ids, seqs.get((long) d), "document " + d + " " + e);
            Row r = rows.get(d);
            assertEquals(List.of((long) d, (long) d, 0L, (long) ids.length, e.path(), e.line(), e.replaced()),
                    List.of(r.getLong(0), r.getLong(1), r.getLong(2), r.getLong(3), r.getString(4), r.getLong(5),
                            r.getInt(6)), "index row " + d);
            tokens += ids.length;
        }
        TokenManifest m = TokenManifest.read(out, new Configuration());
        assertEquals(m, result.manifest());
        assertFalse(m.concatenated());
        assertEquals(want.size(), m.sequences());
        assertEquals(want.size(), m.documents());
        assertEquals(tokens, m.tokens());
        assertEquals(5, m.blockSize());
        assertEquals("byte", m.tokenizer());
        assertEquals(258, m.vocabSize());
        assertTrue(m.separator().isEmpty());
        assertEquals(files.size(), m.corpus().files());
        assertEquals(empty[0], m.corpus().emptyDocuments());
        assertEquals(want.stream().filter(e -> e.replaced() > 0).count(), m.corpus().invalidUtf8Documents());
        assertEquals(want.stream().mapToLong(Expected::replaced).sum(), m.corpus().replacedSequences());
        assertTrue(m.corpus().invalidUtf8Documents() > 0, "the random corpus should hold invalid UTF-8");
        assertTrue(empty[0] > 0, "the random corpus should hold blank lines");
        // Spark's own reader sees the blocks only: the document index under _documents is skipped.
        assertEquals(result.blocks(), SPARK.session().read().parquet(out).count());
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 3, 64})
    void concatenatedCorpusWithSeparatorsAcrossPartitionBoundaries(int b) throws IOException {
        long seed = 100 + b;
        System.out.println("seed " + seed + ", B = " + b);
        List<Path> files = randomCorpus(seed, 9);
        List<Expected> want = expectedLines(files, new int[1]);
        String out = uri(dir.resolve("tokens"));
        TokenizeResult result = TokenBlocks.write(SPARK.session(), uri(dir.resolve("corpus")), out,
                TokenizeOptions.defaults(DocumentMode.LINE).withConcatenate(true).withBlockSize(b).withPartitions(4));

        // Reference: documents' bytes with 256 between consecutive documents.
        List<Integer> joined = new ArrayList<>();
        for (int d = 0; d < want.size(); d++) {
            if (d > 0) {
                joined.add(ByteTokenizer.END_OF_TEXT);
            }
            for (int id : bytesOf(want.get(d).text())) {
                joined.add(id);
            }
        }
        Map<Long, int[]> seqs = sequences(out, b);
        assertEquals(List.of(0L), List.copyOf(seqs.keySet()));
        int[] seq = seqs.get(0L);
        assertArrayEquals(joined.stream().mapToInt(Integer::intValue).toArray(), seq);

        TokenManifest m = result.manifest();
        assertTrue(m.concatenated());
        assertEquals(1, m.sequences());
        assertEquals(seq.length, m.tokens());
        assertEquals(ByteTokenizer.END_OF_TEXT, m.separator().getAsInt());
        assertEquals((seq.length + b - 1) / b, result.blocks());

        // The index: each document's tokens lie at [first, first + length), a separator just before.
        List<Row> rows = index(out);
        assertEquals(want.size(), rows.size());
        long sum = 0;
        for (int d = 0; d < rows.size(); d++) {
            Row r = rows.get(d);
            assertEquals(0L, r.getLong(1));
            int first = (int) r.getLong(2);
            int[] ids = bytesOf(want.get(d).text());
            assertEquals(ids.length, r.getLong(3));
            assertArrayEquals(ids, Arrays.copyOfRange(seq, first, first + ids.length), "document " + d);
            if (d > 0) {
                assertEquals(ByteTokenizer.END_OF_TEXT, seq[first - 1], "separator before document " + d);
            } else {
                assertEquals(0, first);
            }
            assertEquals(want.get(d).line(), r.getLong(5));
            sum += ids.length;
        }
        assertEquals(sum + rows.size() - 1, m.tokens());
    }

    @Test
    void aBlockSpanningManyPartitionsIsJoinedInOrder() throws IOException {
        // Eleven one-line files of a few bytes, read by eleven tasks, all within one block of 64.
        StringBuilder reference = new StringBuilder();
        for (int i = 0; i < 11; i++) {
            write(dir.resolve(String.format("c/%02d.txt", i)), "d" + i + "\n");
            reference.append(i > 0 ? "|" : "").append("d").append(i);
        }
        String out = uri(dir.resolve("tokens"));
        TokenBlocks.write(SPARK.session(), uri(dir.resolve("c")), out,
                TokenizeOptions.defaults(DocumentMode.FILE).withConcatenate(true).withBlockSize(64)
                        .withPartitions(11).withSeparator('|'));
        int[] seq = sequences(out, 64).get(0L);
        assertEquals(reference.toString().replace("\n", ""), new String(new ByteTokenizer().decodeBytes(seq),
                StandardCharsets.UTF_8).replace("\n", ""));
        // File mode keeps each file's text whole, newline included.
        String withNewlines = new String(new ByteTokenizer().decodeBytes(seq), StandardCharsets.UTF_8);
        assertTrue(withNewlines.startsWith("d0\n|d1\n|"), withNewlines);
    }

    @Test
    void huggingFaceTokenizerWithItsEndOfTextBetweenDocuments() throws IOException {
        Path tokenizerJson = TinyBpe.write(Files.createDirectories(dir.resolve("tok")));
        String text = "hello world\n\nhello café\nworld hello!\n";
        write(dir.resolve("c/a.txt"), text);
        write(dir.resolve("c/b.txt.gz"), "hello\n");
        String out = uri(dir.resolve("tokens"));
        TokenizeResult result = TokenBlocks.write(SPARK.session(), uri(dir.resolve("c")), out,
                TokenizeOptions.defaults(DocumentMode.LINE).withTokenizer(tokenizerJson.toString())
                        .withConcatenate(true).withBlockSize(4));
        List<Integer> want = new ArrayList<>();
        try (Tokenizer t = Tokenizers.open(tokenizerJson.toString())) {
            for (String doc : List.of("hello world", "hello café", "world hello!", "hello")) {
                if (!want.isEmpty()) {
                    want.add(TinyBpe.END_OF_TEXT);
                }
                Arrays.stream(t.encode(doc)).forEach(want::add);
            }
        }
        // hello Ġwor ld | hello Ġ c a f Ã © | w or ld Ġ hello ! | hello
        assertEquals(List.of(259, 262, 263, 264, 259, 32, 99, 97, 102, 195, 169, 264, 119, 261, 263, 32, 259, 33, 264,
                259), want, "the tokenizer called directly, by hand");
        assertArrayEquals(want.stream().mapToInt(Integer::intValue).toArray(), sequences(out, 4).get(0L));
        assertEquals(TinyBpe.VOCAB_SIZE, result.manifest().vocabSize());
        assertEquals(TinyBpe.END_OF_TEXT, result.manifest().separator().getAsInt());
        assertEquals(1, result.manifest().corpus().emptyDocuments());
    }

    @Test
    void concatenationNeedsASeparator() throws IOException {
        String json = TinyBpe.json().replace("<|endoftext|>", "<|not-an-end|>");
        Path tokenizerJson = Files.writeString(dir.resolve("tokenizer.json"), json);
        write(dir.resolve("c/a.txt"), "hello\n");
        String out = uri(dir.resolve("tokens"));
        TokenizeOptions options = TokenizeOptions.defaults(DocumentMode.LINE).withTokenizer(tokenizerJson.toString())
                .withConcatenate(true);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TokenBlocks.write(SPARK.session(), uri(dir.resolve("c")), out, options));
        assertTrue(e.getMessage().contains("separator"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> TokenBlocks.write(SPARK.session(), uri(dir.resolve("c")), out, options.withSeparator(9999)));
        assertTrue(e.getMessage().contains("9999"), e.getMessage());
        assertFalse(Files.exists(dir.resolve("tokens")));
        TokenBlocks.write(SPARK.session(), uri(dir.resolve("c")), out, options.withSeparator(TinyBpe.END_OF_TEXT));
        assertEquals(TinyBpe.END_OF_TEXT, TokenManifest.read(out, new Configuration()).separator().getAsInt());
    }

    @Test
    void writesAtomically() throws IOException {
        write(dir.resolve("c/a.txt"), "first version\n");
        Path target = dir.resolve("tokens");
        String out = uri(target);
        TokenizeOptions options = TokenizeOptions.defaults(DocumentMode.LINE);
        TokenBlocks.write(SPARK.session(), uri(dir.resolve("c")), out, options);
        write(dir.resolve("c/a.txt"), "second\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TokenBlocks.write(SPARK.session(), uri(dir.resolve("c")), out, options));
        assertTrue(e.getMessage().contains("--overwrite"), e.getMessage());
        assertArrayEquals(bytesOf("first version"), sequences(out, 4096).get(0L), "left as it was");

        // A corrupt gzip file fails the job: the old output stays, and no temporary folder is left behind.
        Files.write(dir.resolve("c/z.txt.gz"), new byte[] {0x1f, (byte) 0x8b, 8, 0, 1, 2, 3});
        assertThrows(Exception.class,
                () -> TokenBlocks.write(SPARK.session(), uri(dir.resolve("c")), out, options.withOverwrite(true)));
        assertArrayEquals(bytesOf("first version"), sequences(out, 4096).get(0L), "left as it was");
        try (Stream<Path> left = Files.list(dir)) {
            assertEquals(List.of("c", "tokens"), left.map(p -> p.getFileName().toString()).sorted().toList());
        }

        Files.delete(dir.resolve("c/z.txt.gz"));
        TokenBlocks.write(SPARK.session(), uri(dir.resolve("c")), out, options.withOverwrite(true));
        assertArrayEquals(bytesOf("second"), sequences(out, 4096).get(0L), "replaced");
        try (Stream<Path> files = Files.walk(target)) {
            assertTrue(files.noneMatch(p -> p.toString().endsWith(".crc") && p.getFileName().toString()
                    .startsWith("._longnet")), "no checksum file beside the manifest");
        }
    }

    @Test
    void aCorpusWithoutTextIsAnErrorNotAnEmptyDataset() throws IOException {
        write(dir.resolve("c/a.txt"), "\n  \n\t\n");
        String out = uri(dir.resolve("tokens"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TokenBlocks.write(SPARK.session(), uri(dir.resolve("c")), out,
                        TokenizeOptions.defaults(DocumentMode.LINE)));
        assertTrue(e.getMessage().contains("no document") && e.getMessage().contains("3 empty"), e.getMessage());
        assertFalse(Files.exists(dir.resolve("tokens")));
    }

    @Test
    void theShippedSampleCorporaRoundTrip() throws IOException {
        // Surefire runs in the module folder: data/ is the shipped samples.
        Path files = Path.of("data/corpus-files").toAbsolutePath();
        List<Path> sorted;
        try (Stream<Path> list = Files.list(files)) {
            sorted = list.sorted((x, y) -> uri(x).compareTo(uri(y))).toList();
        }
        String out = uri(dir.resolve("files"));
        TokenizeResult r = TokenBlocks.write(SPARK.session(), uri(files), out,
                TokenizeOptions.defaults(DocumentMode.FILE));
        Map<Long, int[]> seqs = sequences(out, TokenizeOptions.DEFAULT_BLOCK_SIZE);
        assertEquals(sorted.size(), seqs.size());
        assertTrue(sorted.stream().anyMatch(p -> p.toString().endsWith(".gz")), "a gzip sample");
        for (int i = 0; i < sorted.size(); i++) {
            assertArrayEquals(readMaybeGzip(sorted.get(i)), new ByteTokenizer().decodeBytes(seqs.get((long) i)),
                    sorted.get(i).toString());
        }
        assertEquals(0, r.manifest().corpus().invalidUtf8Documents());

        Path lines = Path.of("data/corpus-lines").toAbsolutePath();
        List<Path> lineFiles;
        try (Stream<Path> list = Files.list(lines)) {
            lineFiles = list.sorted((x, y) -> uri(x).compareTo(uri(y))).toList();
        }
        int[] empty = {0};
        List<Expected> want = expectedLines(lineFiles, empty);
        r = TokenBlocks.write(SPARK.session(), uri(lines), uri(dir.resolve("lines")),
                TokenizeOptions.defaults(DocumentMode.LINE).withConcatenate(true));
        assertEquals(want.size(), r.manifest().documents());
        assertEquals(empty[0], r.manifest().corpus().emptyDocuments());
        assertTrue(want.size() > 40, "documents: " + want.size());

        // A token dataset is not a vector dataset, and says so.
        TensorFormatException e = assertThrows(TensorFormatException.class,
                () -> BlockManifest.read(out, new Configuration()));
        assertTrue(e.getMessage().contains("longnet-tokens/1"), e.getMessage());
    }
}
