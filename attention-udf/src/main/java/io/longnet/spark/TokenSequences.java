package io.longnet.spark;

import io.longnet.storage.BlockColumns;
import static org.apache.spark.sql.functions.col;

import io.longnet.attention.Backend;
import io.longnet.model.LongNetConfig;
import io.longnet.model.LongNetModel;
import io.longnet.model.ModelDecoder;
import io.longnet.model.ModelDecoders;
import io.longnet.model.ModelWeights;
import io.longnet.model.SequenceWindow;
import io.longnet.spark.SequenceParallelModel.TokenPartition;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.functions;
import org.apache.spark.util.CollectionAccumulator;
import scala.Tuple2;

/**
 * The sequences of a token block dataset ({@code seq_id long, block long, tokens array<int>}: positions
 * {@code [block * B, block * B + len)}, every block of a sequence full but the last) run through a
 * LongNet model on one backend (docs/ARCHITECTURE.md §4): those that fit one partition whole inside a task
 * (data-parallel over sequences); longer ones whose branches are all local to a partition, one task per
 * partition running every layer there; the others through {@link SequenceParallelModel} (one job each, an
 * exchange per spanning branch and layer). The first two run on the task's {@link ModelDecoder}, the whole
 * model on the GPU Spark assigned to the task when the backend takes one. Shared by the ML stages
 * ({@code LongNetEncoder}, {@code LongNetScorer}) and the {@code score} / {@code encode} jobs.
 * <p>
 * The constructor reads one row of metadata per sequence (lengths, block numbers, token range) and checks
 * the layout, so that a malformed input fails on the driver with a message rather than inside a task.
 */
public final class TokenSequences {

    private final Dataset<Row> rows;
    private final int blockSize;
    private final LongNetConfig config;
    private final int partitionLength;
    private final Backend backend;
    private final long taskBytes;
    private final Map<Long, Long> lengths = new TreeMap<>();
    private final Set<Long> whole = new HashSet<>();
    private final List<Long> spread = new ArrayList<>();
    /** The decoder of each task that ran whole sequences or runs of one ({@link #ranOn}). */
    private final CollectionAccumulator<String> decoders;
    /** The tasks' time opening their decoders and in them ({@link #phaseTimes}). */
    private final PhaseTimes times;
    /** Sequences that went through the sequence-parallel model, by how it ran. */
    private final Map<String, Long> sequenceParallel = new TreeMap<>();

    /**
     * @param rows            the blocks (columns {@code seq_id}, {@code block}, {@code tokens}; others ignored)
     * @param blockSize       B, positions per block; 0: the longest block of the data
     * @param config          the model's config: its branches plan the partitions, its vocabulary bounds the ids
     * @param partitionLength L of the sequence-parallel plan; 0: chosen per sequence, for the backend's tasks
     * @param backend         where the model runs; with a GPU the chosen partitions are
     *                        {@link PartitionPlan#GPU_TASK_BYTES}-sized
     * @throws IllegalArgumentException when the blocks are not numbered 0, 1, ... per sequence, a block but
     *                                  the last is not full, a block is empty or null, or a token id lies
     *                                  outside the vocabulary
     */
    public TokenSequences(Dataset<Row> rows, int blockSize, LongNetConfig config, int partitionLength,
                          Backend backend) {
        this.rows = rows.select(col(BlockColumns.SEQ_ID), col(BlockColumns.BLOCK), col(BlockColumns.TOKENS));
        this.config = config;
        this.partitionLength = partitionLength;
        this.backend = Objects.requireNonNull(backend, "backend");
        this.decoders = rows.sparkSession().sparkContext().collectionAccumulator("longnet model decoders");
        this.times = PhaseTimes.register(rows.sparkSession().sparkContext(), List.of(DECODER_OPEN, MODEL));
        // Whether the tasks get a GPU: on a local master that loads the CUDA driver and cuBLAS 13 (seconds on
        // a GPU machine), so it runs beside the layout's Spark job; a quick answer (no driver) comes first.
        CompletableFuture<Boolean> gpu = CompletableFuture.supplyAsync(
                () -> TaskGpu.planned(rows.sparkSession().sparkContext(), backend));
        answer(gpu, 200);
        Layout layout = layout(this.rows, blockSize, config.vocabSize());
        this.taskBytes = answer(gpu, Long.MAX_VALUE) ? PartitionPlan.GPU_TASK_BYTES : PartitionPlan.DEFAULT_TASK_BYTES;
        this.blockSize = layout.blockSize();
        lengths.putAll(layout.lengths());
        for (Map.Entry<Long, Long> e : lengths.entrySet()) {
            (plan(e.getValue()).partitions() == 1 ? whole : spread).add(e.getKey());
        }
    }

    /** Phases of {@link #phaseTimes}: opening a task's decoder (weights to the device), and running it. */
    public static final String DECODER_OPEN = "decoder open";
    public static final String MODEL = "model";

    /** Task time opening decoders and running them (whole sequences and runs; not the sequence-parallel model). */
    public PhaseTimes phaseTimes() {
        return times;
    }

    /**
     * The answer of {@code gpu} within {@code millis}, else null; its failure rethrown. Asked for 200 ms
     * first: a machine without a CUDA driver answers at once, so {@code --backend gpu} fails before any job.
     */
    private static Boolean answer(CompletableFuture<Boolean> gpu, long millis) {
        try {
            return gpu.get(millis, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            return null;
        } catch (ExecutionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while probing the GPU", e);
        }
    }

    /** The sequence-parallel plan of a sequence of {@code n} positions. */
    public PartitionPlan plan(long n) {
        return PartitionPlan.of(config.attentionConfig(), n, partitionLength, taskBytes, blockSize);
    }

    /** A token block dataset's block size and the length of each sequence, in {@code seq_id} order. */
    public record Layout(int blockSize, SortedMap<Long, Long> lengths) {
    }

    /**
     * Reads one row of metadata per sequence (lengths, block numbers, token range) and checks the layout,
     * so that a malformed input fails on the driver with a message rather than inside a task.
     *
     * @param blockSize B, positions per block; 0: the longest block of the data
     * @param vocabSize token ids must lie in {@code [0, vocabSize)}
     * @throws IllegalArgumentException as the constructor
     */
    public static Layout layout(Dataset<Row> rows, int blockSize, int vocabSize) {
        if (blockSize < 0) {
            throw new IllegalArgumentException("block size must be >= 0 (0: from the data), got " + blockSize);
        }
        // One pass over Spark's binary rows, per sequence (no SQL aggregate to plan and compile: a small job's
        // fixed cost was mostly that).
        List<Tuple2<Long, BlockStats>> meta = rows.select(col(BlockColumns.SEQ_ID), col(BlockColumns.BLOCK),
                        col(BlockColumns.TOKENS)).queryExecution().toRdd().toJavaRDD()
                .mapPartitionsToPair(it -> {
                    Map<Long, BlockStats> bySeq = new java.util.HashMap<>();
                    while (it.hasNext()) {
                        org.apache.spark.sql.catalyst.InternalRow r = it.next();
                        bySeq.computeIfAbsent(r.getLong(0), k -> new BlockStats()).add(r.getLong(1),
                                r.isNullAt(2) ? null : r.getArray(2));
                    }
                    List<Tuple2<Long, BlockStats>> out = new ArrayList<>(bySeq.size());
                    bySeq.forEach((seq, st) -> out.add(new Tuple2<>(seq, st)));
                    return out.iterator();
                })
                .reduceByKey(BlockStats::merge)
                .collect();
        int b = blockSize;
        if (b == 0) {
            for (Tuple2<Long, BlockStats> m : meta) {
                b = Math.max(b, m._2().longest);
            }
        }
        b = Math.max(b, 1);
        SortedMap<Long, Long> lengths = new TreeMap<>();
        for (Tuple2<Long, BlockStats> m : meta) {
            lengths.put(m._1(), check(m._2(), m._1(), b, vocabSize));
        }
        return new Layout(b, Collections.unmodifiableSortedMap(lengths));
    }

    /** What the layout check needs of one sequence's blocks; merged over partitions. */
    private static final class BlockStats implements java.io.Serializable {
        long rows;
        long nulls;
        long firstBlock = Long.MAX_VALUE;
        long lastBlock = Long.MIN_VALUE;
        long tokens;
        int shortest = Integer.MAX_VALUE;
        int longest;
        /** Size of the block numbered {@link #lastBlock}. */
        int lastBlockSize;
        int low = Integer.MAX_VALUE;
        int high = Integer.MIN_VALUE;
        /** The block numbers seen, to count the distinct ones. */
        java.util.HashSet<Long> blocks = new java.util.HashSet<>();

        void add(long block, org.apache.spark.sql.catalyst.util.ArrayData ids) {
            rows++;
            blocks.add(block);
            firstBlock = Math.min(firstBlock, block);
            int size = ids == null ? 0 : ids.numElements();
            if (block >= lastBlock) {
                lastBlock = block;
                lastBlockSize = size;
            }
            if (ids == null) {
                nulls++;
                return;
            }
            tokens += size;
            shortest = Math.min(shortest, size);
            longest = Math.max(longest, size);
            for (int i = 0; i < size; i++) {
                int id = ids.getInt(i);
                low = Math.min(low, id);
                high = Math.max(high, id);
            }
        }

        BlockStats merge(BlockStats o) {
            rows += o.rows;
            nulls += o.nulls;
            if (o.lastBlock > lastBlock || (o.lastBlock == lastBlock && o.lastBlockSize > lastBlockSize)) {
                lastBlock = o.lastBlock;
                lastBlockSize = o.lastBlockSize;
            }
            firstBlock = Math.min(firstBlock, o.firstBlock);
            tokens += o.tokens;
            shortest = Math.min(shortest, o.shortest);
            longest = Math.max(longest, o.longest);
            low = Math.min(low, o.low);
            high = Math.max(high, o.high);
            blocks.addAll(o.blocks);
            return this;
        }
    }

    /** Checks one sequence's statistics and returns its length. */
    private static long check(BlockStats m, long seq, int blockSize, int vocab) {
        long rowCount = m.rows;
        if (m.nulls > 0) {
            throw new IllegalArgumentException("sequence " + seq + " has " + m.nulls + " block(s) with null"
                    + " tokens");
        }
        long first = m.firstBlock;
        long last = m.lastBlock;
        if (first != 0 || last != rowCount - 1 || m.blocks.size() != rowCount) {
            throw new IllegalArgumentException("sequence " + seq + " has " + rowCount + " block rows numbered "
                    + first + ".." + last + ": expected blocks 0.." + (rowCount - 1) + ", each once");
        }
        long n = m.tokens;
        int shortest = m.shortest;
        int longest = m.longest;
        int lastSize = m.lastBlockSize;
        if (shortest < 1) {
            throw new IllegalArgumentException("sequence " + seq + " has an empty block: every block holds at"
                    + " least one token");
        }
        if (longest > blockSize || n - lastSize != (rowCount - 1) * (long) blockSize) {
            throw new IllegalArgumentException("sequence " + seq + " holds " + n + " tokens in " + rowCount
                    + " blocks of " + shortest + " to " + longest + ": expected full blocks of " + blockSize
                    + " tokens, only the last one shorter");
        }
        int low = m.low;
        int high = m.high;
        if (low < 0 || high >= vocab) {
            throw new IllegalArgumentException("sequence " + seq + " holds token id " + (low < 0 ? low : high)
                    + ", outside the model's vocabulary [0, " + vocab + ")");
        }
        return n;
    }

    /** Number of sequences. */
    public long count() {
        return lengths.size();
    }

    /** Total positions of all sequences. */
    public long tokens() {
        long total = 0;
        for (long n : lengths.values()) {
            total += n;
        }
        return total;
    }

    /** Length of sequence {@code seq}. */
    public long length(long seq) {
        return lengths.get(seq);
    }

    /** B: positions per block (the given one, or the longest block of the data). */
    public int blockSize() {
        return blockSize;
    }

    /** Sequences that fit one partition: run whole inside a task. */
    public Set<Long> whole() {
        return whole;
    }

    /**
     * Sequences longer than one partition: a task per partition where every branch is local, else
     * through the sequence-parallel model, one job each.
     */
    public List<Long> spread() {
        return spread;
    }

    /**
     * How the sequences will run, for the job's first line: e.g. {@code 5 sequence(s), 8112 token(s): 2 whole
     * in a task, 1 in a task per partition, 2 sequence-parallel (exchange per layer)}.
     */
    public String describe() {
        long exchanged = spread.stream().filter(seq -> !plan(length(seq)).spanning().isEmpty()).count();
        return count() + " sequence(s), " + tokens() + " token(s): " + whole.size() + " whole in a task, "
                + (spread.size() - exchanged) + " in a task per partition, " + exchanged
                + " sequence-parallel (exchange per layer)";
    }

    /**
     * What ran the jobs so far, one line each for the summary: the tasks' decoders (e.g. {@code gpu:0 (NVIDIA
     * H200, bf16 model): 32 task(s)}), then the sequences of the sequence-parallel model.
     */
    public List<String> ranOn() {
        Map<String, Long> tasks = new TreeMap<>();
        for (String name : decoders.value()) {
            tasks.merge(name, 1L, Long::sum);
        }
        List<String> lines = new ArrayList<>();
        tasks.forEach((name, count) -> lines.add(name + ": " + count + " task(s)"));
        sequenceParallel.forEach((how, count) -> lines.add(how + ": " + count + " sequence(s)"));
        return lines;
    }

    /**
     * Hidden states of every position, {@code d_model} floats each: after {@code layer} layers (0: the
     * embeddings; before the final LayerNorm), or, for {@code layer = -1}, the final features (all layers,
     * then the final LayerNorm). Slices cover each sequence once; whole sequences come as one slice,
     * spread ones as one per partition.
     */
    public JavaRDD<SequenceSlice> hidden(JavaSparkContext jsc, LongNetModel model, int layer, int checkpointEvery) {
        int layers = model.config().layers();
        if (layer < -1 || layer > layers) {
            throw new IllegalArgumentException("layer " + layer + " does not exist: the model has layers 0"
                    + " (embeddings) to " + layers + ", or -1 for the final features");
        }
        RunWork work = (decoder, seq, tokens, where) ->
                new SequenceSlice(seq, where.start(), tokens.length, decoder.hiddenStates(tokens, where, layer));
        return each(jsc, model, "hidden states", work, (spm, seq, tokens) -> {
            JavaRDD<SequenceParallelModel.HiddenPartition> h = layer < 0 ? spm.features(tokens) : spm.hidden(tokens, layer);
            return h.map(b -> new SequenceSlice(seq, b.start(), b.length(), b.x()));
        }, checkpointEvery);
    }

    /**
     * Next-token log-probabilities: the value at position {@code p} is {@code log P(token p + 1 | tokens
     * 0..p)}, so a sequence of {@code n} tokens has {@code n - 1} (its last position predicts nothing; a
     * one-token sequence comes as an empty slice).
     */
    public JavaRDD<SequenceSlice> nextTokenLogProbs(JavaSparkContext jsc, LongNetModel model, int checkpointEvery) {
        RunWork work = (decoder, seq, tokens, where) -> {
            float[] lp = where.scored(tokens.length) > 0 ? decoder.nextTokenLogProbs(tokens, where) : new float[0];
            return new SequenceSlice(seq, where.start(), lp.length, lp);
        };
        return each(jsc, model, "next-token log-probs", work, (spm, seq, tokens) -> spm.nextTokenLogProbs(tokens)
                .map(b -> new SequenceSlice(seq, b.start(), b.logProbs().length, b.logProbs())), checkpointEvery);
    }

    /** What a task computes of a whole sequence or of a run of one that needs nothing outside it. */
    private interface RunWork extends java.io.Serializable {
        SequenceSlice run(ModelDecoder decoder, long seq, int[] tokens, SequenceWindow where);
    }

    /** What the sequence-parallel model computes of one sequence's partitions. */
    private interface SpreadWork {
        JavaRDD<SequenceSlice> run(SequenceParallelModel model, long seq, JavaRDD<TokenPartition> tokens);
    }

    /**
     * {@code work} on every whole sequence and on every partition of the spread sequences whose branches are
     * all local; {@code spreadWork} through the sequence-parallel model for the others.
     */
    private JavaRDD<SequenceSlice> each(JavaSparkContext jsc, LongNetModel model, String what, RunWork work,
                                        SpreadWork spreadWork, int checkpointEvery) {
        Broadcast<LongNetConfig> configB = jsc.broadcast(model.config());
        Broadcast<ModelWeights> weightsB = jsc.broadcast(model.weights());
        Backend backend = this.backend;
        CollectionAccumulator<String> ran = decoders;
        PhaseTimes phases = times;
        jsc.setCallSite(what + " of whole sequences");
        // No whole sequence: no pass over the data to find none.
        JavaRDD<SequenceSlice> out = whole.isEmpty() ? jsc.emptyRDD() : onDecoders(wholeSequences(jsc.broadcast(whole)),
                configB, weightsB, backend, ran, phases, work);
        for (long seq : spread) {
            long n = length(seq);
            PartitionPlan plan = plan(n);
            if (plan.spanning().isEmpty()) {
                jsc.setCallSite(what + " of sequence " + seq + ", a task per partition (" + plan.describe() + ")");
                out = out.union(onDecoders(partitioned(seq, plan).map(t -> new Run(seq, t.tokens(),
                        new SequenceWindow(t.start(), n, t.nextToken()))), configB, weightsB, backend, ran, phases, work));
            } else {
                SequenceParallelModel spm = new SequenceParallelModel(jsc, model.config(), model.weights(), plan,
                        backend, checkpointEvery);
                jsc.setCallSite(what + " of sequence " + seq + " (" + plan.describe() + ")");
                sequenceParallel.merge("sequence-parallel, layers on the cpu, attention (" + backend
                        + " backend) exchanged per layer", 1L, Long::sum);
                out = out.union(spreadWork.run(spm, seq, partitioned(seq, plan)));
            }
        }
        jsc.clearCallSite();
        return out;
    }

    /** Tokens of a whole sequence or of a run of one, and where they lie. */
    private record Run(long seq, int[] tokens, SequenceWindow where) implements java.io.Serializable {
    }

    /** {@code work} on every run, inside tasks: one decoder per task, on the task's GPU when the backend takes it. */
    private static JavaRDD<SequenceSlice> onDecoders(JavaRDD<Run> runs, Broadcast<LongNetConfig> configB,
                                                     Broadcast<ModelWeights> weightsB, Backend backend,
                                                     CollectionAccumulator<String> ran, PhaseTimes phases,
                                                     RunWork work) {
        return runs.mapPartitions(it -> {
            if (!it.hasNext()) {
                return java.util.Collections.emptyIterator();
            }
            List<SequenceSlice> result = new ArrayList<>();
            LongNetModel m = new LongNetModel(configB.value(), weightsB.value());
            TaskContext task = TaskContext.get();
            long t = System.nanoTime();
            try (ModelDecoder decoder = ModelDecoders.open(backend, m, task == null ? 1 : task.cpus(),
                    TaskGpu.ordinal(task))) {
                t = phases.since(DECODER_OPEN, t);
                ran.add(decoder.name());
                while (it.hasNext()) {
                    Run r = it.next();
                    t = System.nanoTime();
                    result.add(work.run(decoder, r.seq(), r.tokens(), r.where()));
                    phases.since(MODEL, t);
                }
            }
            return result.iterator();
        });
    }

    /** The sequences of {@code whole}, each one run (its tokens in order). */
    private JavaRDD<Run> wholeSequences(Broadcast<Set<Long>> whole) {
        return blocks(rows)
                .filter(b -> whole.value().contains(b._1()))
                .mapToPair(b -> new Tuple2<>(b._1(), new Tuple2<>(b._2(), b._3())))
                .groupByKey()
                .map(s -> {
                    int[] tokens = concat(s._2());
                    return new Run(s._1(), tokens, SequenceWindow.whole(tokens.length));
                });
    }

    /**
     * The blocks as (seq_id, block, tokens), read from Spark's binary rows: the token arrays are copied out
     * whole, not boxed one id at a time as {@code Row.getList} would.
     */
    private static JavaRDD<scala.Tuple3<Long, Long, int[]>> blocks(Dataset<Row> rows) {
        return rows.queryExecution().toRdd().toJavaRDD()
                .map(r -> new scala.Tuple3<>(r.getLong(0), r.getLong(1), r.getArray(2).toIntArray()));
    }

    /**
     * Sequence {@code seq} cut into the partitions of {@code plan} (L a multiple of the block size), each
     * also holding the token after it.
     */
    private JavaRDD<TokenPartition> partitioned(long seq, PartitionPlan plan) {
        int length = plan.partitionLength();
        if (length % blockSize != 0) {
            throw new IllegalArgumentException("partition length " + length + " is not a multiple of the token"
                    + " dataset's block size " + blockSize + ": choose a partition length that is a multiple of "
                    + blockSize + " and divides or is a multiple of every segment length of "
                    + config.branches());
        }
        int perPartition = length / blockSize;
        // The first block of a partition also goes to the previous one, which needs its first token.
        return blocks(rows.filter(col(BlockColumns.SEQ_ID).equalTo(seq)))
                .flatMapToPair(row -> {
                    long block = row._2();
                    int p = (int) (block / perPartition);
                    int[] ids = row._3();
                    List<Tuple2<Integer, Tuple2<Long, int[]>>> to = new ArrayList<>(2);
                    to.add(new Tuple2<>(p, new Tuple2<>(block, ids)));
                    if (block % perPartition == 0 && p > 0) {
                        to.add(new Tuple2<>(p - 1, new Tuple2<>(block, ids)));
                    }
                    return to.iterator();
                })
                .partitionBy(new PartitionIdPartitioner(plan.partitions()))
                .mapPartitionsWithIndex((p, blocks) -> {
                    List<Tuple2<Long, int[]>> mine = new ArrayList<>();
                    int next = -1;
                    long nextBlock = (long) (p + 1) * perPartition;
                    while (blocks.hasNext()) {
                        Tuple2<Long, int[]> b = blocks.next()._2();
                        if (b._1() == nextBlock) {
                            next = b._2()[0];
                        } else {
                            mine.add(b);
                        }
                    }
                    return List.of(new TokenPartition(p, (long) p * length, concat(mine), next)).iterator();
                }, true)
                .setName("tokens of sequence " + seq + " in partitions of " + length);
    }

    /** Blocks in order, their tokens end to end. */
    private static int[] concat(Iterable<Tuple2<Long, int[]>> blocks) {
        List<Tuple2<Long, int[]>> sorted = new ArrayList<>();
        blocks.forEach(sorted::add);
        sorted.sort(Comparator.comparingLong(Tuple2::_1));
        int total = 0;
        for (Tuple2<Long, int[]> b : sorted) {
            total += b._2().length;
        }
        int[] out = new int[total];
        int at = 0;
        for (Tuple2<Long, int[]> b : sorted) {
            System.arraycopy(b._2(), 0, out, at, b._2().length);
            at += b._2().length;
        }
        return out;
    }
}
