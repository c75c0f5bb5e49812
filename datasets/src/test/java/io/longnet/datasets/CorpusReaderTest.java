package io.longnet.datasets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.spark.SparkSessionExtension;
import io.longnet.tensors.TensorFormatException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.zip.GZIPOutputStream;
import org.apache.spark.SparkException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

class CorpusReaderTest {

    @RegisterExtension
    static final SparkSessionExtension SPARK = new SparkSessionExtension();

    @TempDir
    Path dir;

    static Path write(Path file, byte[] bytes) throws IOException {
        Files.createDirectories(file.getParent());
        if (file.getFileName().toString().endsWith(".gz")) {
            try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(file))) {
                out.write(bytes);
            }
        } else {
            Files.write(file, bytes);
        }
        return file;
    }

    static Path write(Path file, String text) throws IOException {
        return write(file, text.getBytes(StandardCharsets.UTF_8));
    }

    /** The path as Hadoop qualifies it ({@code file:/tmp/...}), which is how documents name their file. */
    static String uri(Path p) {
        return new org.apache.hadoop.fs.Path(p.toUri()).toString();
    }

    private static List<Document> read(String corpus, DocumentMode mode, CorpusReader[] keep) throws IOException {
        CorpusReader reader = CorpusReader.open(SPARK.session(), corpus, mode);
        keep[0] = reader;
        return reader.documents().collect();  // small test data only
    }

    @Test
    void linesWithCrLfBlankLinesAndNoFinalNewline() throws IOException {
        Path a = write(dir.resolve("a.txt"), "first\r\n\nsecond line\n   \nthird");
        Path b = write(dir.resolve("b.txt.gz"), "gz one\ngz two\n");
        CorpusReader[] reader = new CorpusReader[1];
        List<Document> docs = read(uri(dir), DocumentMode.LINE, reader);
        List<Document> want = List.of(
                new Document(uri(a), 1, "first", 0),
                new Document(uri(a), 3, "second line", 0),
                new Document(uri(a), 5, "third", 0),
                new Document(uri(b), 1, "gz one", 0),
                new Document(uri(b), 2, "gz two", 0));
        assertEquals(want, docs);
        CorpusStats stats = reader[0].stats();
        assertEquals(2, stats.files());
        assertEquals(5, stats.documents());
        assertEquals(2, stats.emptyDocuments(), "the empty and the white-space line");
        assertEquals(0, stats.invalidUtf8Documents());
        // Bytes of the lines' text, without \n and the dropped \r: 5+0+11+3+5 and 6+6.
        assertEquals(24 + 12, stats.bytes());
    }

    @Test
    void filesRecursivelyGzipAndHiddenFilesSkipped() throws IOException {
        Path root = dir.resolve("corpus");
        Path a = write(root.resolve("a.txt"), "alpha\nstill alpha\n");
        Path b = write(root.resolve("sub/b.txt.gz"), "beta, gunzipped");
        write(root.resolve("sub/_SUCCESS"), "");
        write(root.resolve(".hidden.txt"), "never read");
        write(root.resolve("_tmp/c.txt"), "never read either");
        Path blank = write(root.resolve("sub/blank.txt"), " \n\t\n");
        CorpusReader[] reader = new CorpusReader[1];
        List<Document> docs = read(uri(root), DocumentMode.FILE, reader);
        assertEquals(List.of(new Document(uri(a), 0, "alpha\nstill alpha\n", 0),
                new Document(uri(b), 0, "beta, gunzipped", 0)), docs);
        assertEquals(List.of(uri(a), uri(b), uri(blank)), reader[0].files());
        assertEquals(3, reader[0].stats().files());
        assertEquals(1, reader[0].stats().emptyDocuments());
    }

    @Test
    void invalidUtf8IsReplacedAndCountedNotFatal() throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        bytes.writeBytes("ok line\n".getBytes(StandardCharsets.UTF_8));
        bytes.writeBytes(new byte[] {'b', 'a', 'd', (byte) 0xFF, ' ', (byte) 0xC3, '\n'});   // two bad sequences
        bytes.writeBytes(new byte[] {(byte) 0xFE, '\n'});                                    // bad and nothing else
        bytes.writeBytes("caf\u00e9\n".getBytes(StandardCharsets.UTF_8));
        Path f = write(dir.resolve("mixed.txt.gz"), bytes.toByteArray());
        CorpusReader[] reader = new CorpusReader[1];
        List<Document> docs = read(uri(f), DocumentMode.LINE, reader);
        assertEquals(List.of(new Document(uri(f), 1, "ok line", 0),
                new Document(uri(f), 2, "bad\uFFFD \uFFFD", 2),
                new Document(uri(f), 3, "\uFFFD", 1),
                new Document(uri(f), 4, "caf\u00e9", 0)), docs);
        CorpusStats stats = reader[0].stats();
        assertEquals(2, stats.invalidUtf8Documents());
        assertEquals(3, stats.replacedSequences());
        assertEquals(4, stats.documents());
    }

    @Test
    void globsAndCommaSeparatedPathsInSortedOrder() throws IOException {
        Path x = write(dir.resolve("x/2.txt"), "two");
        Path y = write(dir.resolve("y/1.txt"), "one");
        write(dir.resolve("y/1.md"), "not matched");
        CorpusReader[] reader = new CorpusReader[1];
        List<Document> docs = read(uri(dir) + "/*/*.txt", DocumentMode.FILE, reader);
        assertEquals(List.of("two", "one"), docs.stream().map(Document::text).toList());
        assertEquals(List.of(uri(x), uri(y)), reader[0].files());
        docs = read(uri(y) + "," + uri(x), DocumentMode.FILE, reader);
        assertEquals(List.of("two", "one"), docs.stream().map(Document::text).toList(), "sorted by path");
    }

    @Test
    void manyFilesKeepTheirOrderAcrossPartitions() throws IOException {
        List<String> want = new ArrayList<>();
        for (int i = 0; i < 23; i++) {
            String text = "document " + i + "\n" + "x".repeat(i * 37);
            write(dir.resolve(String.format("part-%03d.txt", i)), text);
            want.add(text);
        }
        CorpusReader reader = CorpusReader.open(SPARK.session(), uri(dir), DocumentMode.FILE);
        var rdd = reader.documents(5);
        assertTrue(rdd.getNumPartitions() >= 5, "partitions: " + rdd.getNumPartitions());
        assertEquals(want, rdd.map(Document::text).collect());
    }

    @Test
    void missingCorpusIsAClearError() {
        FileNotFoundException e = assertThrows(FileNotFoundException.class,
                () -> CorpusReader.open(SPARK.session(), uri(dir.resolve("absent")), DocumentMode.LINE));
        assertTrue(e.getMessage().contains("absent"), e.getMessage());
        e = assertThrows(FileNotFoundException.class,
                () -> CorpusReader.open(SPARK.session(), uri(dir) + "/*.nothing", DocumentMode.LINE));
        assertTrue(e.getMessage().contains("matches nothing"), e.getMessage());
        e = assertThrows(FileNotFoundException.class,
                () -> CorpusReader.open(SPARK.session(), uri(dir), DocumentMode.LINE));
        assertTrue(e.getMessage().contains("holds no files"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> DocumentMode.parse("paragraph"));
        assertEquals(DocumentMode.LINE, DocumentMode.parse(" Line "));
    }

    @Test
    void partitionsAreContiguousBalancedAndComplete() {
        SplittableRandom rnd = new SplittableRandom(7);
        for (int trial = 0; trial < 100; trial++) {
            int n = 1 + rnd.nextInt(40);
            List<CorpusReader.CorpusFile> files = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                files.add(new CorpusReader.CorpusFile("f" + i, rnd.nextInt(4) == 0 ? 0 : rnd.nextLong(1 << 20)));
            }
            int parallelism = 1 + rnd.nextInt(8);
            List<List<CorpusReader.CorpusFile>> groups = CorpusReader.partition(files, parallelism);
            List<CorpusReader.CorpusFile> flat = new ArrayList<>();
            groups.forEach(g -> {
                assertFalse(g.isEmpty(), "empty group");
                flat.addAll(g);
            });
            assertEquals(files, flat, "order and completeness, trial " + trial);
            assertTrue(groups.size() <= Math.max(parallelism, 1), "trial " + trial + ": " + groups.size());
        }
    }

    @Test
    void lineSplitterMatchesAPlainSplitOnRandomInput() throws IOException {
        for (long seed = 0; seed < 30; seed++) {
            SplittableRandom rnd = new SplittableRandom(seed);
            // Lines up to 200 KB, so that some cross the splitter's 64 KB read chunks.
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            List<String> want = new ArrayList<>();
            int lines = 1 + rnd.nextInt(20);
            for (int i = 0; i < lines; i++) {
                int len = rnd.nextInt(5) == 0 ? rnd.nextInt(200_000) : rnd.nextInt(50);
                StringBuilder line = new StringBuilder();
                for (int k = 0; k < len; k++) {
                    line.append((char) ('a' + rnd.nextInt(26)));
                }
                want.add(line.toString());
                all.writeBytes(line.toString().getBytes(StandardCharsets.US_ASCII));
                boolean last = i == lines - 1;
                // An empty piece after the last newline is no line, so an empty last line needs its newline.
                if (!last || len == 0 || rnd.nextBoolean()) {
                    all.writeBytes(rnd.nextBoolean() ? new byte[] {'\r', '\n'} : new byte[] {'\n'});
                }
            }
            InputStream in = new ByteArrayInputStream(all.toByteArray());
            CorpusReader.LineSplitter splitter = new CorpusReader.LineSplitter(in, TokenizeOptions.MAX_DOCUMENT_BYTES);
            List<String> got = new ArrayList<>();
            while (splitter.next()) {
                got.add(new String(splitter.buffer(), 0, splitter.length(), StandardCharsets.US_ASCII));
            }
            assertEquals(want, got, "seed " + seed);
        }
    }

    /** The exception of type {@code type} in the chain of {@code e} (Spark wraps a task's own). */
    static <T extends Throwable> T causeOf(Throwable e, Class<T> type) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (type.isInstance(t)) {
                return type.cast(t);
            }
        }
        throw new AssertionError("no " + type.getSimpleName() + " in the chain of " + e, e);
    }

    private static String failureOf(String corpus, DocumentMode mode, int limit, Class<? extends Throwable> type)
            throws IOException {
        CorpusReader reader = CorpusReader.open(SPARK.session(), corpus, mode, limit);
        SparkException e = assertThrows(SparkException.class, () -> reader.documents().collect());
        return causeOf(e, type).getMessage();
    }

    @Test
    void aDocumentOverTheLimitIsRefusedNamingItsFileLineAndTheLimit() throws IOException {
        Path whole = write(dir.resolve("whole.txt"), "x".repeat(1024));
        assertEquals(1024, read(uri(whole), DocumentMode.FILE, new CorpusReader[1]).get(0).text().length(),
                "default limit: read whole");
        CorpusReader atLimit = CorpusReader.open(SPARK.session(), uri(whole), DocumentMode.FILE, 1024);
        assertEquals(1, atLimit.documents().count(), "a document of exactly the limit is read");

        Path big = write(dir.resolve("big.txt.gz"), "y".repeat(1025));
        assertEquals("corpus file " + uri(big) + " is larger than the document limit of 1 KiB (after gunzip): read it"
                + " one document per line (--documents line), split it, or raise --max-document-bytes",
                failureOf(uri(big), DocumentMode.FILE, 1024, IllegalArgumentException.class));

        Path lines = write(dir.resolve("lines.txt"), "short\nalso short\n" + "z".repeat(5000) + "\nafter\n");
        assertEquals("corpus file " + uri(lines) + ": line 3 is longer than the document limit of 1 KiB (after gunzip):"
                + " split it, or raise --max-document-bytes",
                failureOf(uri(lines), DocumentMode.LINE, 1024, IllegalArgumentException.class));
    }

    @Test
    void truncatedOrCorruptGzipFailsNamingTheFile() throws IOException {
        StringBuilder text = new StringBuilder();
        SplittableRandom rnd = new SplittableRandom(11);
        while (text.length() < 200_000) {
            text.append("word").append(rnd.nextInt(100_000)).append(rnd.nextInt(9) == 0 ? '\n' : ' ');
        }
        Path good = write(dir.resolve("good.txt.gz"), text.toString());
        byte[] gz = Files.readAllBytes(good);

        Files.createDirectories(dir.resolve("cut"));
        Path truncated = Files.write(dir.resolve("cut/truncated.txt.gz"), java.util.Arrays.copyOf(gz, gz.length / 2));
        String m = failureOf(uri(truncated), DocumentMode.LINE, TokenizeOptions.DEFAULT_MAX_DOCUMENT_BYTES,
                TensorFormatException.class);
        assertTrue(m.startsWith("corpus file " + uri(truncated) + " ends too early: truncated, or not gzip?"), m);

        byte[] flipped = gz.clone();
        for (int i = gz.length / 2; i < gz.length / 2 + 64; i++) {
            flipped[i] ^= (byte) 0x5A;
        }
        Path corrupt = Files.write(dir.resolve("cut/corrupt.txt.gz"), flipped);
        m = failureOf(uri(corrupt), DocumentMode.LINE, TokenizeOptions.DEFAULT_MAX_DOCUMENT_BYTES,
                TensorFormatException.class);
        assertTrue(m.startsWith("corpus file " + uri(corrupt) + " is not valid gzip ("), m);

        Path plain = Files.writeString(dir.resolve("cut/plain.txt.gz"), "not compressed at all\n");
        m = failureOf(uri(plain), DocumentMode.FILE, TokenizeOptions.DEFAULT_MAX_DOCUMENT_BYTES,
                TensorFormatException.class);
        assertEquals("corpus file " + uri(plain) + " is not valid gzip (Not in GZIP format): is it corrupt, or named"
                + " .gz without being gzip?", m);
    }

    @Test
    void binaryFilesAreSkippedNamedAndCounted() throws IOException {
        Path root = dir.resolve("mixed");
        Path text = write(root.resolve("a.txt"), "plain text\n");
        // Latin-1 accents are invalid UTF-8, but a minority: still text, replaced and counted.
        Path latin1 = write(root.resolve("b.txt"), "caf\u00e9 cr\u00e8me br\u00fbl\u00e9e\n"
                .getBytes(StandardCharsets.ISO_8859_1));
        byte[] image = new byte[3000];
        new SplittableRandom(5).nextBytes(image);
        image[2500] = 0;
        Path nul = write(root.resolve("c.png"), image);
        byte[] noNul = new byte[3000];
        java.util.Arrays.fill(noNul, (byte) 0xFF);
        System.arraycopy("header".getBytes(StandardCharsets.US_ASCII), 0, noNul, 0, 6);
        Path invalid = write(root.resolve("d.bin.gz"), noNul);
        Path utf16 = write(root.resolve("e.txt"), "UTF-16 is not UTF-8\n".getBytes(StandardCharsets.UTF_16LE));

        CorpusReader[] reader = new CorpusReader[1];
        List<Document> docs = read(uri(root), DocumentMode.LINE, reader);
        assertEquals(List.of(new Document(uri(text), 1, "plain text", 0),
                new Document(uri(latin1), 1, "caf\uFFFD cr\uFFFDme br\uFFFDl\uFFFDe", 4)), docs);
        assertEquals(List.of(uri(nul) + " (NUL bytes)", uri(invalid) + " (mostly invalid UTF-8)",
                uri(utf16) + " (NUL bytes)"), reader[0].binaryFilesSkipped());
        assertEquals(3, reader[0].stats().binaryFiles());
        assertEquals(2, reader[0].stats().files(), "files read");
        assertTrue(reader[0].stats().toString().endsWith(", 3 binary files skipped"), reader[0].stats().toString());

        String out = uri(dir.resolve("tokens"));
        TokenBlocks.write(SPARK.session(), uri(root), out, TokenizeOptions.defaults(DocumentMode.FILE));
        TokenManifest manifest = TokenManifest.read(out, SPARK.session().sparkContext().hadoopConfiguration());
        assertEquals(3, manifest.corpus().binaryFiles(), "the manifest counts them");
        assertEquals(2, manifest.documents());
    }

    @Test
    void invalidBytesCountsBytesOfMalformedSequencesNotACutCharacter() {
        byte[] euro = "\u20ac".getBytes(StandardCharsets.UTF_8);   // 3 bytes
        assertEquals(0, Utf8Text.invalidBytes(euro, 0, 2), "a character cut by the end of the sample is valid");
        assertEquals(0, Utf8Text.invalidBytes(euro, 0, 3));
        byte[] bad = {'a', (byte) 0xFF, (byte) 0xFE, 'b', (byte) 0xC3};
        assertEquals(2, Utf8Text.invalidBytes(bad, 0, 5));
        assertEquals(1, Utf8Text.invalidBytes(bad, 1, 1));
    }
}
