package io.longnet.datasets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.spark.SparkSessionExtension;
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
            CorpusReader.LineSplitter splitter = new CorpusReader.LineSplitter(in);
            List<String> got = new ArrayList<>();
            while (splitter.next()) {
                got.add(new String(splitter.buffer(), 0, splitter.length(), StandardCharsets.US_ASCII));
            }
            assertEquals(want, got, "seed " + seed);
        }
    }
}
