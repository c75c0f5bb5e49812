package io.longnet.datasets;

import io.longnet.storage.SerializableHadoopConf;
import io.longnet.tensors.TensorFormatException;
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
import java.util.TreeSet;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.util.CollectionAccumulator;
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
 *   <li>Binary files are skipped and named ({@link #binaryFilesSkipped()}): those whose first
 *       {@value #BINARY_SAMPLE_BYTES} bytes (after gunzip) hold a NUL byte, or more bytes of invalid UTF-8
 *       than valid text. Text with some invalid UTF-8 (Latin-1 accents, say) is still read.</li>
 *   <li>Memory is bounded: files are streamed, and a document (a whole file, or a line) longer than
 *       {@code maxDocumentBytes} is refused naming its file (and line) rather than read further, so a
 *       gzip bomb ends in one message. It is refused, not split: a document is a sequence (or a run of
 *       the concatenated one) and a silent cut would change what the model sees.</li>
 *   <li>A truncated or corrupt {@code .gz} fails naming the file ({@link TensorFormatException}).</li>
 * </ul>
 * Each task reads whole files, so a single large file is read by one task (gzip cannot be split anyway);
 * a corpus of many files spreads over the cluster.
 */
public final class CorpusReader {

    private static final Logger LOG = LoggerFactory.getLogger(CorpusReader.class);
    /** Bytes a task reads, at most about (files are never split): more tasks than that for a large corpus. */
    private static final long TARGET_PARTITION_BYTES = 64L << 20;
    /** Bytes at the start of a file that decide whether it is binary. */
    static final int BINARY_SAMPLE_BYTES = 8192;
    /** Binary files a task names, at most (the rest are counted): the warning stays readable. */
    private static final int BINARY_NAMES_PER_TASK = 20;

    private final JavaSparkContext sc;
    private final String corpus;
    private final DocumentMode mode;
    private final int maxDocumentBytes;
    private final List<CorpusFile> files;
    private final Counters counters;

    private CorpusReader(JavaSparkContext sc, String corpus, DocumentMode mode, int maxDocumentBytes,
                         List<CorpusFile> files) {
        this.sc = sc;
        this.corpus = corpus;
        this.mode = mode;
        this.maxDocumentBytes = maxDocumentBytes;
        this.files = files;
        this.counters = new Counters(sc);
    }

    /**
     * Lists the corpus's files (on the driver); nothing is read yet.
     *
     * @param corpus           a file, folder or glob, or several separated by commas
     * @param maxDocumentBytes a longer document (file or line, after gunzip) fails the read, naming it
     * @throws FileNotFoundException when a path does not exist or nothing matches
     */
    public static CorpusReader open(SparkSession spark, String corpus, DocumentMode mode, int maxDocumentBytes)
            throws IOException {
        TokenizeOptions.checkMaxDocumentBytes(maxDocumentBytes);
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
        return new CorpusReader(JavaSparkContext.fromSparkContext(spark.sparkContext()), corpus, mode,
                maxDocumentBytes, files);
    }

    /** {@link #open(SparkSession, String, DocumentMode, int)} with the default document limit. */
    public static CorpusReader open(SparkSession spark, String corpus, DocumentMode mode) throws IOException {
        return open(spark, corpus, mode, TokenizeOptions.DEFAULT_MAX_DOCUMENT_BYTES);
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
        int limit = maxDocumentBytes;
        Counters c = counters;
        JavaRDD<Document> docs = sc.parallelize(groups, groups.size())
                .flatMap(group -> new DocumentIterator(group, m, limit, conf.get(), c));
        return docs.setName("documents of " + corpus + " (one per " + mode.name().toLowerCase(Locale.ROOT) + ")");
    }

    /** What the evaluations of {@link #documents()} so far have counted. */
    public CorpusStats stats() {
        return counters.stats();
    }

    /**
     * The binary files the evaluations so far skipped, sorted, each with why ({@code "PATH (NUL bytes)"});
     * at most {@value #BINARY_NAMES_PER_TASK} per task ({@link CorpusStats#binaryFiles()} counts them all).
     */
    public List<String> binaryFilesSkipped() {
        return new ArrayList<>(new TreeSet<>(counters.binaryNames.value()));
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
        final LongAccumulator binary;
        final CollectionAccumulator<String> binaryNames;

        Counters(JavaSparkContext sc) {
            files = sc.sc().longAccumulator("corpus files");
            bytes = sc.sc().longAccumulator("corpus bytes");
            documents = sc.sc().longAccumulator("corpus documents");
            empty = sc.sc().longAccumulator("corpus empty documents skipped");
            invalid = sc.sc().longAccumulator("corpus documents with invalid UTF-8");
            replaced = sc.sc().longAccumulator("corpus invalid UTF-8 sequences replaced");
            binary = sc.sc().longAccumulator("corpus binary files skipped");
            binaryNames = sc.sc().collectionAccumulator("corpus binary files skipped, named");
        }

        CorpusStats stats() {
            return new CorpusStats(files.value(), bytes.value(), documents.value(), empty.value(), invalid.value(),
                    replaced.value(), binary.value());
        }
    }

    /** The documents of a group of files, one file open at a time. */
    private static final class DocumentIterator extends LookaheadIterator<Document> {
        private final Iterator<CorpusFile> files;
        private final DocumentMode mode;
        private final int maxDocumentBytes;
        private final Configuration conf;
        private final Counters counters;
        private String path;
        private InputStream in;
        private LineSplitter lines;
        private long lineNumber;
        private int binaryNamed;

        DocumentIterator(List<CorpusFile> files, DocumentMode mode, int maxDocumentBytes, Configuration conf,
                         Counters counters) {
            this.files = files.iterator();
            this.mode = mode;
            this.maxDocumentBytes = maxDocumentBytes;
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
                        continue;
                    }
                    Document d = mode == DocumentMode.FILE ? readFile() : readLine();
                    if (d != null) {
                        return d;
                    }
                }
            } catch (DocumentTooLarge e) {
                closeQuietly();
                String limit = "the document limit of " + TokenizeOptions.formatBytes(maxDocumentBytes);
                throw new IllegalArgumentException(mode == DocumentMode.FILE
                        ? "corpus file " + path + " is larger than " + limit + " (after gunzip): read it one document"
                                + " per line (--documents line), split it, or raise --max-document-bytes"
                        : "corpus file " + path + ": line " + (lineNumber + 1) + " is longer than " + limit
                                + " (after gunzip): split it, or raise --max-document-bytes");
            } catch (EOFException e) {
                closeQuietly();
                throw new TensorFormatException("corpus file " + path + " ends too early: truncated, or not gzip?"
                        + (e.getMessage() == null ? "" : " (" + e.getMessage() + ")"));
            } catch (ZipException e) {
                closeQuietly();
                throw new TensorFormatException("corpus file " + path + " is not valid gzip (" + e.getMessage()
                        + "): is it corrupt, or named .gz without being gzip?");
            } catch (IOException e) {
                closeQuietly();
                String what = e.getMessage() == null ? e.toString() : e.getMessage();
                throw new UncheckedIOException("corpus file " + path + ": " + what, e);
            }
        }

        /** Opens the next file, or skips it (counted, named) when it is binary. */
        private void openNext() throws IOException {
            path = files.next().path();
            Path p = new Path(path);
            InputStream raw = p.getFileSystem(conf).open(p);
            try {
                in = new BufferedInputStream(path.endsWith(".gz") ? new GZIPInputStream(raw, 1 << 16) : raw, 1 << 16);
                in.mark(BINARY_SAMPLE_BYTES);
                byte[] sample = in.readNBytes(BINARY_SAMPLE_BYTES);
                in.reset();
                String binary = binaryEvidence(sample, sample.length);
                if (binary != null) {
                    skipBinary(binary);
                    return;
                }
            } catch (IOException | RuntimeException e) {
                closeQuietly();
                raw.close();
                throw e;
            }
            lines = mode == DocumentMode.LINE ? new LineSplitter(in, maxDocumentBytes) : null;
            lineNumber = 0;
        }

        private void skipBinary(String why) throws IOException {
            LOG.debug("corpus file {} skipped: binary ({})", path, why);   // the driver warns, naming them
            counters.binary.add(1);
            if (binaryNamed++ < BINARY_NAMES_PER_TASK) {
                counters.binaryNames.add(path + " (" + why + ")");
            }
            InputStream done = in;
            in = null;
            done.close();
        }

        /** The whole file as one document, or null when it is blank. */
        private Document readFile() throws IOException {
            byte[] bytes = in.readNBytes(maxDocumentBytes);
            if (in.read() >= 0) {
                throw new DocumentTooLarge();
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
        private final int maxLength;
        private final byte[] chunk = new byte[1 << 16];
        private int pos;
        private int limit;
        private boolean eof;
        private byte[] line = new byte[1 << 10];
        private int length;

        /** Lines of at most {@code maxLength} bytes: a longer one throws {@link DocumentTooLarge}. */
        LineSplitter(InputStream in, int maxLength) {
            this.in = in;
            this.maxLength = maxLength;
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
            // The limit counts a trailing \r (dropped only once the line has ended).
            if ((long) length + count > maxLength) {
                throw new DocumentTooLarge();
            }
            if (length + count > line.length) {
                line = Arrays.copyOf(line, (int) Math.min(maxLength,
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

    /** A document past the limit: the reader names its file and line. */
    static final class DocumentTooLarge extends IOException {
        private static final long serialVersionUID = 1L;

        DocumentTooLarge() {
            super("document larger than the limit");
        }
    }

    /**
     * Why the start of a file marks it as binary, or null for text: a NUL byte (which no text file holds;
     * UTF-16 text has them too, and is not UTF-8), or more bytes of invalid UTF-8 than of valid text.
     */
    static String binaryEvidence(byte[] sample, int length) {
        for (int i = 0; i < length; i++) {
            if (sample[i] == 0) {
                return "NUL bytes";
            }
        }
        int invalid = Utf8Text.invalidBytes(sample, 0, length);
        return 2L * invalid > length ? "mostly invalid UTF-8" : null;
    }
}
