package io.longnet.datasets;

import io.longnet.storage.BlockColumns;
import io.longnet.storage.AtomicOutput;
import java.io.IOException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.NoSuchElementException;
import java.util.OptionalInt;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.storage.StorageLevel;
import org.apache.spark.util.LongAccumulator;
import org.apache.spark.util.TaskCompletionListener;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import static org.apache.spark.sql.functions.col;

/**
 * A corpus as a token block dataset (docs/ARCHITECTURE.md §3), written atomically (a hidden sibling of the output,
 * renamed into place when complete):
 * <pre>
 * OUT/part-*.parquet              seq_id long, block long, tokens array&lt;int&gt;
 *                                 positions [block * B, block * B + len) of sequence seq_id; every block
 *                                 holds B tokens except the last of a sequence
 * OUT/_documents/part-*.parquet   the document index, one row per document kept:
 *                                 doc long       its number in corpus order, from 0
 *                                 seq_id long    its sequence
 *                                 first long     the position of its first token in that sequence
 *                                 length long    its tokens (the separator before it not counted)
 *                                 path string    its file; line long: its line from 1, or 0 for a whole file
 *                                 replaced int   invalid UTF-8 sequences replaced by U+FFFD in it
 * OUT/_longnet.json               the {@link TokenManifest}
 * </pre>
 * Layouts: one sequence per document ({@code seq_id = doc}, {@code first = 0}), or the whole corpus as
 * sequence 0, documents in corpus order with the separator id between consecutive documents (not before
 * the first nor after the last), so that {@code tokens = sum(length) + documents - 1}.
 * <p>
 * The document index is a Parquet dataset rather than part of the JSON manifest because a corpus read
 * one document per line easily has millions of documents. Spark skips {@code _}-prefixed folders, so
 * {@code spark.read().parquet(OUT)} reads the blocks alone.
 * <p>
 * The plan: read and tokenize every partition of files once (the tokenizer opened once per task), keep
 * the tokens (memory, spilling to disk), count documents and tokens per partition (the only data that
 * reaches the driver), then cut blocks where they lie. In the concatenated layout a block may straddle two
 * partitions; only those pieces (at most two per partition) go through a shuffle.
 */
public final class TokenBlocks {

    private static final Logger LOG = LoggerFactory.getLogger(TokenBlocks.class);

    /** The blocks' Parquet schema. */
    public static final StructType SCHEMA = new StructType()
            .add(BlockColumns.SEQ_ID, DataTypes.LongType, false)
            .add(BlockColumns.BLOCK, DataTypes.LongType, false)
            .add(BlockColumns.TOKENS, DataTypes.createArrayType(DataTypes.IntegerType, false), true);

    /** The document index's Parquet schema. */
    public static final StructType DOCUMENTS_SCHEMA = new StructType()
            .add("doc", DataTypes.LongType, false)
            .add(BlockColumns.SEQ_ID, DataTypes.LongType, false)
            .add("first", DataTypes.LongType, false)
            .add("length", DataTypes.LongType, false)
            .add("path", DataTypes.StringType, false)
            .add("line", DataTypes.LongType, false)
            .add("replaced", DataTypes.IntegerType, false);

    /** Bytes of partial blocks per task when they are merged (only boundary blocks: few). */
    private static final long PARTIAL_BYTES_PER_TASK = 64L << 20;

    private TokenBlocks() {
    }

    /**
     * Tokenizes {@code corpus} into the token block dataset {@code out}.
     *
     * @throws IllegalArgumentException when the output exists (without overwrite), the concatenated layout
     *                                  has no separator, or the corpus has no non-blank document
     */
    public static TokenizeResult write(SparkSession spark, String corpus, String out, TokenizeOptions options)
            throws IOException {
        long started = System.nanoTime();
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        AtomicOutput.requireAbsent(out, conf, options.overwrite());
        TokenizerSource source = Tokenizers.source(options.tokenizer(), conf);
        int vocabSize;
        OptionalInt separator = OptionalInt.empty();
        try (Tokenizer tokenizer = source.open()) {
            vocabSize = tokenizer.vocabSize();
            if (options.concatenate()) {
                separator = options.separator().isPresent() ? options.separator() : tokenizer.separatorId();
                if (separator.isEmpty()) {
                    throw new IllegalArgumentException("tokenizer " + source.name() + " has no end-of-text token to"
                            + " put between concatenated documents: name the separator id");
                }
                if (separator.getAsInt() >= vocabSize) {
                    throw new IllegalArgumentException("separator id " + separator.getAsInt() + " is outside tokenizer "
                            + source.name() + "'s vocabulary 0.." + (vocabSize - 1));
                }
            }
        }
        CorpusReader reader = CorpusReader.open(spark, corpus, options.mode(), options.maxDocumentBytes());
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        LongAccumulator tokenless = sc.sc().longAccumulator("documents without tokens");
        // Broadcast: a tokenizer.json can be tens of MB, sent once per executor rather than per stage.
        Broadcast<TokenizerSource> shared = sc.broadcast(source);
        JavaRDD<TokenizedDocument> tokenized = reader.documents(options.partitions())
                .mapPartitions(docs -> new TokenizingIterator(docs, shared.value(), tokenless))
                .setName("documents of " + corpus + " tokenized by " + source.name())
                .persist(StorageLevel.MEMORY_AND_DISK_SER());
        String description = sc.getLocalProperty("spark.job.description");
        try (AtomicOutput output = AtomicOutput.begin(out, conf, options.overwrite())) {
            Path tmp = output.temporary();
            sc.setJobDescription("tokenize " + corpus + ": read, tokenize, count tokens per partition");
            int b = options.blockSize();
            Layout layout = Layout.of(tokenized.mapPartitionsWithIndex(
                    (i, docs) -> List.of(Layout.count(i, docs, b)).iterator(), true).collect(),
                    b, options.concatenate());
            CorpusStats stats = reader.stats();
            if (stats.binaryFiles() > 0) {
                List<String> named = reader.binaryFilesSkipped();
                LOG.warn("tokenize {}: skipped {} binary file(s) (a NUL byte, or mostly invalid UTF-8, in the first"
                        + " {} bytes): {}{}", corpus, stats.binaryFiles(), CorpusReader.BINARY_SAMPLE_BYTES,
                        String.join(", ", named), named.size() < stats.binaryFiles() ? ", ..." : "");
            }
            if (layout.documents() == 0) {
                throw new IllegalArgumentException("corpus " + corpus + " has no document with tokens: " + stats
                        + (tokenless.value() > 0 ? ", " + tokenless.value() + " without tokens" : ""));
            }
            LOG.debug("tokenized {}: {}; {} tokens in {} blocks of {}", corpus, stats, layout.tokens(),
                    layout.blocks(), options.blockSize());

            sc.setJobDescription("tokenize " + corpus + ": write " + layout.blocks() + " token blocks");
            JavaRDD<TokenBlock> blocks = options.concatenate()
                    ? concatenatedBlocks(tokenized, layout, separator.getAsInt())
                    : documentBlocks(tokenized, layout);
            spark.createDataset(blocks.rdd(), Encoders.bean(TokenBlock.class))
                    .select(col("seqId").as(BlockColumns.SEQ_ID), col(BlockColumns.BLOCK), col(BlockColumns.TOKENS))
                    .write().parquet(tmp.toString());

            sc.setJobDescription("tokenize " + corpus + ": write the index of " + layout.documents() + " documents");
            spark.createDataFrame(documentIndex(tokenized, layout), DOCUMENTS_SCHEMA)
                    .write().parquet(new Path(tmp, TokenManifest.DOCUMENTS).toString());

            TokenManifest manifest = new TokenManifest(options.blockSize(), options.concatenate(),
                    options.concatenate() ? 1 : layout.documents(), layout.tokens(), layout.documents(),
                    source.name(), vocabSize, separator, stats, tokenless.value(), options.properties());
            manifest.write(tmp.toString(), conf);
            output.commit();
            TokenizeResult result = new TokenizeResult(out, manifest, layout.blocks(),
                    (System.nanoTime() - started) / 1e9);
            LOG.debug(result.summary());
            return result;
        } finally {
            tokenized.unpersist(false);
            shared.destroy();
            sc.setJobDescription(description);
        }
    }

    /** The blocks of a token dataset ({@code seq_id, block, tokens}), after checking its manifest. */
    public static Dataset<Row> read(SparkSession spark, String path) throws IOException {
        TokenManifest.read(path, spark.sparkContext().hadoopConfiguration());
        return spark.read().schema(SCHEMA).parquet(path);
    }

    /** The document index of a token dataset (see the class comment for its columns). */
    public static Dataset<Row> documents(SparkSession spark, String path) throws IOException {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        TokenManifest.read(path, conf);
        return readDocuments(spark, documentParts(path, conf));
    }

    /**
     * Checks that the document index of the token dataset {@code path} is there and holds the documents its
     * manifest lists, before any work on the dataset starts.
     *
     * @throws IllegalArgumentException naming what is missing, and what to do
     */
    public static void checkDocuments(SparkSession spark, String path, TokenManifest manifest) throws IOException {
        long rows = readDocuments(spark, documentParts(path, spark.sparkContext().hadoopConfiguration())).count();
        if (rows != manifest.documents()) {
            throw new IllegalArgumentException(String.format(Locale.ROOT, "token dataset %s is incomplete or altered:"
                    + " its manifest lists %,d document(s), its document index %s holds %,d (a part file missing or"
                    + " added?); tokenize it again", path, manifest.documents(), TokenManifest.DOCUMENTS, rows));
        }
    }

    /** The document index's Parquet files; an error naming the dataset when there are none. */
    private static String[] documentParts(String path, Configuration conf) throws IOException {
        Path index = new Path(path, TokenManifest.DOCUMENTS);
        FileSystem fs = index.getFileSystem(conf);
        FileStatus[] parts = fs.exists(index) ? fs.globStatus(new Path(index, "part-*")) : null;
        if (parts == null || parts.length == 0) {
            throw new IllegalArgumentException("token dataset " + path + " has no document index ("
                    + TokenManifest.DOCUMENTS + (parts == null ? " is missing" : " holds no part file")
                    + "): tokenize it again");
        }
        String[] files = new String[parts.length];
        for (int i = 0; i < parts.length; i++) {
            files[i] = parts[i].getPath().toString();
        }
        return files;
    }

    /**
     * The index from its files, named one by one: handed the folder, Spark warns that it ignores it (its
     * name starts with {@code _}) and reads it all the same; handed a glob, it warns that it finds no
     * streaming metadata there.
     */
    private static Dataset<Row> readDocuments(SparkSession spark, String[] parts) {
        return spark.read().schema(DOCUMENTS_SCHEMA).parquet(parts);
    }

    private static JavaRDD<TokenBlock> documentBlocks(JavaRDD<TokenizedDocument> tokenized, Layout layout) {
        return tokenized.mapPartitionsWithIndex((i, docs) -> new DocumentBlockIterator(docs,
                layout.documentStart(i), layout.blockSize()), true);
    }

    private static JavaRDD<TokenBlock> concatenatedBlocks(JavaRDD<TokenizedDocument> tokenized, Layout layout,
                                                          int separator) {
        JavaRDD<TokenBlock> whole = tokenized
                .mapPartitionsWithIndex((i, docs) -> new ConcatenatedPieces(docs, layout, i, separator, true), true)
                .map(p -> new TokenBlock(0, p.block(), p.tokens()));
        long partial = layout.partialBlocks();
        if (partial == 0) {
            return whole;
        }
        int b = layout.blockSize();
        long total = layout.tokens();
        int tasks = (int) Math.max(1, Math.min(tokenized.getNumPartitions(),
                partial * b * (long) Integer.BYTES / PARTIAL_BYTES_PER_TASK));
        JavaRDD<TokenBlock> joined = tokenized
                .mapPartitionsWithIndex((i, docs) -> new ConcatenatedPieces(docs, layout, i, separator, false), true)
                .mapToPair(p -> new scala.Tuple2<>(p.block(), p))
                .groupByKey(tasks)
                .map(group -> join(group._1(), group._2(), b, total));
        return whole.union(joined);
    }

    /** Joins the pieces of one block cut by partition boundaries, checking that they tile it. */
    private static TokenBlock join(long block, Iterable<Piece> pieces, int b, long total) {
        List<Piece> sorted = new ArrayList<>();
        pieces.forEach(sorted::add);
        sorted.sort(Comparator.comparingInt(Piece::offset));
        int length = (int) Math.min(b, total - block * b);
        int[] tokens = new int[length];
        int at = 0;
        for (Piece p : sorted) {
            if (p.offset() != at || at + p.tokens().length > length) {
                throw new IllegalStateException("block " + block + ": pieces do not tile it (piece at " + p.offset()
                        + " of " + p.tokens().length + " tokens after " + at + " of " + length + ")");
            }
            System.arraycopy(p.tokens(), 0, tokens, at, p.tokens().length);
            at += p.tokens().length;
        }
        if (at != length) {
            throw new IllegalStateException("block " + block + ": pieces cover " + at + " of its " + length
                    + " tokens");
        }
        return new TokenBlock(0, block, tokens);
    }

    private static JavaRDD<Row> documentIndex(JavaRDD<TokenizedDocument> tokenized, Layout layout) {
        return tokenized.mapPartitionsWithIndex((i, docs) -> new IndexRows(docs, layout, i), true);
    }

    /** A tokenized document, kept between the stages of {@link #write}. */
    record TokenizedDocument(String path, long line, int replaced, int[] tokens) implements Serializable {
    }

    /** Consecutive tokens of one block, from {@code offset} within it. */
    record Piece(long block, int offset, int[] tokens) implements Serializable {
    }

    /**
     * Where each partition's documents and tokens go, from the per-partition counts (prefix sums, so every
     * question is answered in constant time): the first document number, and in the concatenated layout
     * the run of positions (separators included) the partition writes.
     */
    static final class Layout implements Serializable {
        private static final long serialVersionUID = 1L;

        private final int blockSize;
        private final boolean concatenated;
        private final long[] docs;
        private final long[] docStart;
        private final long[] tokenStart;
        private final long documents;
        private final long tokens;
        private final long blocks;

        private Layout(int blockSize, boolean concatenated, long[] docs, long[] tokens, long[] docBlocks) {
            this.blockSize = blockSize;
            this.concatenated = concatenated;
            this.docs = docs;
            int n = docs.length;
            docStart = new long[n + 1];
            tokenStart = new long[n + 1];
            long documentBlocks = 0;
            for (int p = 0; p < n; p++) {
                docStart[p + 1] = docStart[p] + docs[p];
                tokenStart[p + 1] = tokenStart[p] + tokens[p];
                documentBlocks += docBlocks[p];
            }
            documents = docStart[n];
            this.tokens = tokenStart[n] + (concatenated && documents > 0 ? documents - 1 : 0);
            blocks = concatenated ? (this.tokens + blockSize - 1) / blockSize : documentBlocks;
        }

        /** {partition, documents, tokens, blocks if one sequence per document}, for {@link #of}. */
        static long[] count(int partition, Iterator<TokenizedDocument> it, int blockSize) {
            long[] out = {partition, 0, 0, 0};
            while (it.hasNext()) {
                int n = it.next().tokens().length;
                out[1]++;
                out[2] += n;
                out[3] += (n + blockSize - 1) / blockSize;
            }
            return out;
        }

        static Layout of(List<long[]> counts, int blockSize, boolean concatenated) {
            int n = counts.size();
            long[] docs = new long[n];
            long[] tokens = new long[n];
            long[] blocks = new long[n];
            for (long[] c : counts) {
                docs[(int) c[0]] = c[1];
                tokens[(int) c[0]] = c[2];
                blocks[(int) c[0]] = c[3];
            }
            return new Layout(blockSize, concatenated, docs, tokens, blocks);
        }

        int blockSize() {
            return blockSize;
        }

        boolean concatenated() {
            return concatenated;
        }

        long documents() {
            return documents;
        }

        /** Positions in all sequences, separators included. */
        long tokens() {
            return tokens;
        }

        long blocks() {
            return blocks;
        }

        long documentStart(int partition) {
            return docStart[partition];
        }

        /** Concatenated: where partition {@code p}'s output starts (the separator before its first document). */
        long positionStart(int partition) {
            return tokenStart[partition] + Math.max(0, docStart[partition] - 1);
        }

        /** Concatenated: where partition {@code p}'s output ends. */
        long positionEnd(int partition) {
            long separators = docs[partition] - (docStart[partition] == 0 && docs[partition] > 0 ? 1 : 0);
            return tokenStart[partition + 1] + Math.max(0, docStart[partition] - 1) + separators;
        }

        /** Whether block {@code b} lies wholly in partition {@code p}'s output. */
        boolean whole(long b, int partition) {
            long start = b * blockSize;
            long end = Math.min(start + blockSize, tokens);
            return start >= positionStart(partition) && end <= positionEnd(partition);
        }

        /** Concatenated: blocks cut by a partition boundary. */
        long partialBlocks() {
            long count = 0;
            long last = -1;
            for (int p = 0; p < docs.length; p++) {
                long start = positionStart(p);
                long end = positionEnd(p);
                if (start == end) {
                    continue;
                }
                for (long b : new long[] {start / blockSize, (end - 1) / blockSize}) {
                    if (b != last && !whole(b, p)) {
                        count++;
                        last = b;
                    }
                }
            }
            return count;
        }
    }

    /** Tokenizes documents with one tokenizer per task, skipping (and counting) those without tokens. */
    private static final class TokenizingIterator extends LookaheadIterator<TokenizedDocument> {
        private final Iterator<Document> docs;
        private final TokenizerSource source;
        private final LongAccumulator tokenless;
        private Tokenizer tokenizer;

        TokenizingIterator(Iterator<Document> docs, TokenizerSource source, LongAccumulator tokenless) {
            this.docs = docs;
            this.source = source;
            this.tokenless = tokenless;
        }

        @Override
        protected TokenizedDocument computeNext() {
            while (true) {
                if (!docs.hasNext()) {
                    close();
                    return null;
                }
                Document d = docs.next();
                if (tokenizer == null) {
                    tokenizer = source.open();
                    TaskContext task = TaskContext.get();
                    if (task != null) {
                        task.addTaskCompletionListener((TaskCompletionListener) ctx -> close());
                    }
                }
                int[] ids = tokenizer.encode(d.text());
                if (ids.length == 0) {
                    tokenless.add(1);
                    continue;
                }
                return new TokenizedDocument(d.path(), d.line(), d.replaced(), ids);
            }
        }

        private void close() {
            if (tokenizer != null) {
                tokenizer.close();
                tokenizer = null;
            }
        }
    }

    /** The document index's rows of one partition, lazily (a partition may hold millions of lines). */
    private static final class IndexRows implements Iterator<Row> {
        private final Iterator<TokenizedDocument> docs;
        private final boolean concatenated;
        private long doc;
        private long position;

        IndexRows(Iterator<TokenizedDocument> docs, Layout layout, int partition) {
            this.docs = docs;
            this.concatenated = layout.concatenated();
            this.doc = layout.documentStart(partition);
            this.position = layout.positionStart(partition);
        }

        @Override
        public boolean hasNext() {
            return docs.hasNext();
        }

        @Override
        public Row next() {
            TokenizedDocument d = docs.next();
            long first = 0;
            if (concatenated) {
                position += doc > 0 ? 1 : 0;     // the separator before every document but the first
                first = position;
                position += d.tokens().length;
            }
            Row row = RowFactory.create(doc, concatenated ? 0L : doc, first, (long) d.tokens().length, d.path(),
                    d.line(), d.replaced());
            doc++;
            return row;
        }
    }

    /** One sequence per document: its blocks, in order. */
    private static final class DocumentBlockIterator implements Iterator<TokenBlock> {
        private final Iterator<TokenizedDocument> docs;
        private final int blockSize;
        private long seq;
        private int[] tokens;
        private long block;

        DocumentBlockIterator(Iterator<TokenizedDocument> docs, long firstSeq, int blockSize) {
            this.docs = docs;
            this.blockSize = blockSize;
            this.seq = firstSeq - 1;
        }

        @Override
        public boolean hasNext() {
            while (tokens == null || block * blockSize >= tokens.length) {
                if (!docs.hasNext()) {
                    return false;
                }
                tokens = docs.next().tokens();
                seq++;
                block = 0;
            }
            return true;
        }

        @Override
        public TokenBlock next() {
            if (!hasNext()) {
                throw new NoSuchElementException();
            }
            int from = (int) (block * blockSize);
            int to = (int) Math.min((long) from + blockSize, tokens.length);
            int[] part = from == 0 && to == tokens.length ? tokens : Arrays.copyOfRange(tokens, from, to);
            return new TokenBlock(seq, block++, part);
        }
    }

    /**
     * The concatenated layout: one partition's run of positions, cut at block boundaries, keeping either
     * the blocks that lie wholly in it ({@code whole}) or the pieces of blocks it shares with a neighbour.
     * Tokens are copied a document's run at a time (arraycopy), never one by one; pieces not kept are
     * skipped without copying.
     */
    private static final class ConcatenatedPieces extends LookaheadIterator<Piece> {
        private final Iterator<TokenizedDocument> docs;
        private final Layout layout;
        private final int partition;
        private final int separator;
        private final boolean whole;
        private final int blockSize;
        private final long end;
        private long position;
        private boolean documentBefore;
        private boolean separatorPending;
        private int[] current;
        private int at;

        ConcatenatedPieces(Iterator<TokenizedDocument> docs, Layout layout, int partition, int separator,
                           boolean whole) {
            this.docs = docs;
            this.layout = layout;
            this.partition = partition;
            this.separator = separator;
            this.whole = whole;
            this.blockSize = layout.blockSize();
            this.position = layout.positionStart(partition);
            this.end = layout.positionEnd(partition);
            this.documentBefore = layout.documentStart(partition) > 0;
        }

        @Override
        protected Piece computeNext() {
            long total = layout.tokens();
            while (position < end) {
                long b = position / blockSize;
                long pieceEnd = Math.min(Math.min((b + 1) * blockSize, total), end);
                int n = (int) (pieceEnd - position);
                boolean keep = layout.whole(b, partition) == whole;
                int[] buffer = keep ? new int[n] : null;
                int offset = (int) (position - b * blockSize);
                take(buffer, n);
                position = pieceEnd;
                if (keep) {
                    return new Piece(b, offset, buffer);
                }
            }
            return null;
        }

        /** The next {@code n} positions into {@code buffer}, or past them when it is null. */
        private void take(int[] buffer, int n) {
            int filled = 0;
            while (filled < n) {
                if (separatorPending) {
                    if (buffer != null) {
                        buffer[filled] = separator;
                    }
                    filled++;
                    separatorPending = false;
                } else if (current != null && at < current.length) {
                    int k = Math.min(n - filled, current.length - at);
                    if (buffer != null) {
                        System.arraycopy(current, at, buffer, filled, k);
                    }
                    at += k;
                    filled += k;
                } else if (docs.hasNext()) {
                    current = docs.next().tokens();
                    at = 0;
                    separatorPending = documentBefore;
                    documentBefore = true;
                } else {
                    throw new IllegalStateException("partition " + partition + " holds fewer tokens than counted"
                            + " (did the corpus change while it was read?)");
                }
            }
        }
    }
}
