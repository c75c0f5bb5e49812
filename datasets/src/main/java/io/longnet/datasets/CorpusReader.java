package io.longnet.datasets;

import io.longnet.storage.SerializableHadoopConf;
import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.TreeMap;
import java.util.zip.GZIPInputStream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.util.LongAccumulator;
import org.apache.spark.util.TaskCompletionListener;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads a text corpus into an RDD of {@link Document}s, on the executors: the driver only lists the
 * files.
 * <ul>
 *   <li>Input: a file, a folder (read recursively; names starting with {@code _} or {@code .} are skipped,
 *       as Hadoop does) or a glob, local or on any Hadoop file system ({@code hdfs://...}); several may be
 *       given separated by commas. Files ending in {@code .gz} are gunzipped.</li>
 *   <li>Documents: one per file or one per line ({@link DocumentMode}), in a fixed order: files sorted by
 *       path, then by position in the file.</li>
 *   <li>Invalid UTF-8 is replaced by U+FFFD and counted, never fatal; blank documents (empty or only white
 *       space) are skipped and counted: see {@link #stats()}.</li>
 * </ul>
 * Each task reads whole files, so a single large file is read by one task (gzip cannot be split anyway);
 * a corpus of many files spreads over the cluster. In {@link DocumentMode#FILE} a file is held in memory
 * as one string, so files must stay under about 1 GB there; {@link DocumentMode#LINE} streams.
 */
public final class CorpusReader {

    private static final Logger LOG = LoggerFactory.getLogger(CorpusReader.class);
    /** Bytes a task reads, at most about (files are never split): more tasks than that for a large corpus. */
    private static final long TARGET_PARTITION_BYTES = 64L << 20;
    private static final int MAX_DOCUMENT_BYTES = Integer.MAX_VALUE - 16;

    private final JavaSparkContext sc;
    private final String corpus;
    private final DocumentMode mode;
    private final List<CorpusFile> files;
    private final Counters counters;

    private CorpusReader(JavaSparkContext sc, String corpus, DocumentMode mode, List<CorpusFile> files) {
        this.sc = sc;
        this.corpus = corpus;
        this.mode = mode;
        this.files = files;
        this.counters = new Counters(sc);
    }

    /**
     * Lists the corpus's files (on the driver); nothing is read yet.
     *
     * @param corpus a file, folder or glob, or several separated by commas
     * @throws FileNotFoundException when a path does not exist or nothing matches
     */
    public static CorpusReader open(SparkSession spark, String corpus, DocumentMode mode) throws IOException {
        if (corpus == null || corpus.isBlank()) {
            throw new IllegalArgumentException("no corpus given: name a file, folder or glob");
        }
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        TreeMap<String, Long> found = new TreeMap<>();
        for (String part : corpus.split(",")) {
            if (part.isBlank()) {
                continue;
            }
            Path pattern = new Path(part.strip());
            FileSystem fs = pattern.getFileSystem(conf);
            FileStatus[] matches = fs.globStatus(pattern);
            if (matches == null || matches.length == 0) {
                throw new FileNotFoundException("corpus " + part.strip() + " does not exist"
                        + (matches == null ? "" : " (the glob matches nothing)"));
            }
            for (FileStatus status : matches) {
                if (status.isDirectory()) {
                    listRecursively(fs, status.getPath(), found);
                } else {
                    found.put(status.getPath().toString(), status.getLen());
                }
            }
        }
        if (found.isEmpty()) {
            throw new FileNotFoundException("corpus " + corpus + " holds no files (names starting with _ or . are"
                    + " skipped)");
        }
        List<CorpusFile> files = new ArrayList<>(found.size());
        found.forEach((path, length) -> files.add(new CorpusFile(path, length)));
        LOG.info("corpus {}: {} files, {} bytes on disk, one document per {}", corpus, files.size(),
                found.values().stream().mapToLong(Long::longValue).sum(), mode.name().toLowerCase(Locale.ROOT));
        return new CorpusReader(JavaSparkContext.fromSparkContext(spark.sparkContext()), corpus, mode, files);
    }

    private static void listRecursively(FileSystem fs, Path dir, TreeMap<String, Long> found) throws IOException {
        for (FileStatus status : fs.listStatus(dir)) {
            String name = status.getPath().getName();
            if (name.startsWith("_") || name.startsWith(".")) {
                continue;
            }
            if (status.isDirectory()) {
                listRecursively(fs, status.getPath(), found);
            } else {
                found.put(status.getPath().toString(), status.getLen());
            }
        }
    }

    /** The files, qualified and sorted: the order of the documents. */
    public List<String> files() {
        List<String> paths = new ArrayList<>(files.size());
        for (CorpusFile f : files) {
            paths.add(f.path());
        }
        return paths;
    }

    public DocumentMode mode() {
        return mode;
    }

    /**
     * The documents, read lazily by the tasks that evaluate the RDD, in corpus order (partition by
     * partition). Each evaluation adds to {@link #stats()}: evaluate it once (persist what is derived from
     * it if it is needed twice).
     */
    public JavaRDD<Document> documents() {
        return documents(0);
    }

    /**
     * {@link #documents()} read by at least {@code minPartitions} tasks where there are that many files
     * ({@code 0}: Spark's default parallelism).
     */
    public JavaRDD<Document> documents(int minPartitions) {
        List<List<CorpusFile>> groups = partition(files, minPartitions > 0 ? minPartitions : sc.defaultParallelism());
        SerializableHadoopConf conf = new SerializableHadoopConf(sc.hadoopConfiguration());
        DocumentMode m = mode;
        Counters c = counters;
        JavaRDD<Document> docs = sc.parallelize(groups, groups.size())
                .flatMap(group -> new DocumentIterator(group, m, conf.get(), c));
        return docs.setName("documents of " + corpus + " (one per " + mode.name().toLowerCase(Locale.ROOT) + ")");
    }

    /** What the evaluations of {@link #documents()} so far have counted. */
    public CorpusStats stats() {
        return counters.stats();
    }

    /**
     * Contiguous groups of files of about equal bytes, at least {@code parallelism} groups where there are
     * that many files, more for a large corpus: file {@code i} goes to group
     * {@code floor(bytesBefore(i) * groups / totalBytes)}.
     */
    static List<List<CorpusFile>> partition(List<CorpusFile> files, int parallelism) {
        long total = 0;
        for (CorpusFile f : files) {
            total += f.length();
        }
        long wanted = Math.max(Math.max(1, parallelism), (total + TARGET_PARTITION_BYTES - 1) / TARGET_PARTITION_BYTES);
        int groups = (int) Math.min(files.size(), wanted);
        List<List<CorpusFile>> out = new ArrayList<>();
        List<CorpusFile> current = new ArrayList<>();
        int currentGroup = 0;
        long before = 0;
        for (CorpusFile f : files) {
            int g = total == 0 ? 0 : (int) Math.min(groups - 1, (double) before * groups / total);
            if (g != currentGroup && !current.isEmpty()) {
                out.add(current);
                current = new ArrayList<>();
            }
            currentGroup = g;
            current.add(f);
            before += f.length();
        }
        out.add(current);
        return out;
    }

    /** A file of the corpus and its length on disk. */
    record CorpusFile(String path, long length) implements Serializable {
    }

    /** The accumulators; created on the driver, updated by tasks. */
    private static final class Counters implements Serializable {
        private static final long serialVersionUID = 1L;

        final LongAccumulator files;
        final LongAccumulator bytes;
        final LongAccumulator documents;
        final LongAccumulator empty;
        final LongAccumulator invalid;
        final LongAccumulator replaced;

        Counters(JavaSparkContext sc) {
            files = sc.sc().longAccumulator("corpus files");
            bytes = sc.sc().longAccumulator("corpus bytes");
            documents = sc.sc().longAccumulator("corpus documents");
            empty = sc.sc().longAccumulator("corpus empty documents skipped");
            invalid = sc.sc().longAccumulator("corpus documents with invalid UTF-8");
            replaced = sc.sc().longAccumulator("corpus invalid UTF-8 sequences replaced");
        }

        CorpusStats stats() {
            return new CorpusStats(files.value(), bytes.value(), documents.value(), empty.value(), invalid.value(),
                    replaced.value());
        }
    }

    /** The documents of a group of files, one file open at a time. */
    private static final class DocumentIterator extends LookaheadIterator<Document> {
        private final Iterator<CorpusFile> files;
        private final DocumentMode mode;
        private final Configuration conf;
        private final Counters counters;
        private String path;
        private InputStream in;
        private LineSplitter lines;
        private long lineNumber;

        DocumentIterator(List<CorpusFile> files, DocumentMode mode, Configuration conf, Counters counters) {
            this.files = files.iterator();
            this.mode = mode;
            this.conf = conf;
            this.counters = counters;
            TaskContext task = TaskContext.get();
            if (task != null) {
                task.addTaskCompletionListener((TaskCompletionListener) ctx -> closeQuietly());
            }
        }

        @Override
        protected Document computeNext() {
            try {
                while (true) {
                    if (in == null) {
                        if (!files.hasNext()) {
                            return null;
                        }
                        openNext();
                    }
                    Document d = mode == DocumentMode.FILE ? readFile() : readLine();
                    if (d != null) {
                        return d;
                    }
                }
            } catch (IOException e) {
                closeQuietly();
                String what = e instanceof EOFException ? "ends too early (truncated, or not gzip?)"
                        : e.getMessage() == null ? e.toString() : e.getMessage();
                throw new UncheckedIOException("corpus file " + path + ": " + what, e);
            }
        }

        private void openNext() throws IOException {
            path = files.next().path();
            Path p = new Path(path);
            InputStream raw = p.getFileSystem(conf).open(p);
            try {
                in = path.endsWith(".gz") ? new GZIPInputStream(raw, 1 << 16) : new BufferedInputStream(raw, 1 << 16);
            } catch (IOException e) {
                raw.close();
                throw e;
            }
            lines = mode == DocumentMode.LINE ? new LineSplitter(in) : null;
            lineNumber = 0;
        }

        /** The whole file as one document, or null when it is blank. */
        private Document readFile() throws IOException {
            byte[] bytes = in.readNBytes(MAX_DOCUMENT_BYTES);
            if (in.read() >= 0) {
                throw new IOException("larger than 2 GB: too large to be one document; read it one document per"
                        + " line, or split it");
            }
            finishFile();
            return document(bytes, bytes.length, 0);
        }

        /** The next line as a document, or null when it is blank or the file has ended. */
        private Document readLine() throws IOException {
            if (!lines.next()) {
                finishFile();
                return null;
            }
            lineNumber++;
            return document(lines.buffer(), lines.length(), lineNumber);
        }

        private Document document(byte[] bytes, int length, long line) {
            counters.bytes.add(length);
            Utf8Text text = Utf8Text.decode(bytes, 0, length);
            if (text.replaced() > 0) {
                counters.invalid.add(1);
                counters.replaced.add(text.replaced());
            }
            if (text.text().isBlank()) {
                counters.empty.add(1);
                return null;
            }
            counters.documents.add(1);
            return new Document(path, line, text.text(), text.replaced());
        }

        private void finishFile() throws IOException {
            counters.files.add(1);
            InputStream done = in;
            in = null;
            lines = null;
            done.close();
        }

        private void closeQuietly() {
            if (in != null) {
                try {
                    in.close();
                } catch (IOException e) {
                    LOG.debug("closing {}: {}", path, e.toString());
                }
                in = null;
            }
        }
    }

    /**
     * Splits a byte stream at {@code \n} without decoding it (the byte 0x0A never occurs inside a multi-byte
     * UTF-8 character, so this is safe before decoding); a trailing {@code \r} is dropped. Copies each line
     * once into a reused buffer: no per-line allocation beyond its growth.
     */
    static final class LineSplitter {
        private final InputStream in;
        private final byte[] chunk = new byte[1 << 16];
        private int pos;
        private int limit;
        private boolean eof;
        private byte[] line = new byte[1 << 10];
        private int length;

        LineSplitter(InputStream in) {
            this.in = in;
        }

        /** Reads the next line into {@link #buffer()}{@code [0, length())}; false at the end of the stream. */
        boolean next() throws IOException {
            length = 0;
            boolean any = false;
            while (true) {
                if (pos == limit) {
                    if (eof) {
                        return finish(any);
                    }
                    int got = in.read(chunk, 0, chunk.length);
                    if (got < 0) {
                        eof = true;
                        return finish(any);
                    }
                    pos = 0;
                    limit = got;
                    continue;
                }
                any = true;
                int end = pos;
                while (end < limit && chunk[end] != '\n') {
                    end++;
                }
                append(chunk, pos, end - pos);
                if (end < limit) {
                    pos = end + 1;
                    return finish(true);
                }
                pos = limit;
            }
        }

        private boolean finish(boolean any) {
            if (any && length > 0 && line[length - 1] == '\r') {
                length--;
            }
            return any;
        }

        private void append(byte[] src, int from, int count) throws IOException {
            if (count == 0) {
                return;
            }
            if ((long) length + count > MAX_DOCUMENT_BYTES) {
                throw new IOException("a line longer than 2 GB");
            }
            if (length + count > line.length) {
                line = Arrays.copyOf(line, (int) Math.min(MAX_DOCUMENT_BYTES,
                        Math.max((long) line.length * 2, (long) length + count)));
            }
            System.arraycopy(src, from, line, length, count);
            length += count;
        }

        byte[] buffer() {
            return line;
        }

        int length() {
            return length;
        }
    }
}
