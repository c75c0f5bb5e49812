package io.longnet.spark;

import io.longnet.attention.Branch;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import scala.Tuple2;

/**
 * The exchange of sequence-parallel attention (docs/ARCHITECTURE.md §4), forward and in training: for every
 * spanning branch of a plan one shuffle, in which each partition sends its sparsified keys and values to the
 * partitions that need them. What a partition sends is the caller's; the shuffles' names and partitioning
 * are this class's. The forward pass may also gather a segment's parts first and share them from there
 * ({@link ExchangeMode}).
 */
public final class SpanningExchange {

    private SpanningExchange() {
    }

    /** What one partition sends for one spanning branch: parts keyed by the partition they go to. */
    @FunctionalInterface
    public interface Sender<I, P> extends Serializable {
        Iterator<Tuple2<Integer, P>> send(int branch, I partition);
    }

    /**
     * One shuffle per spanning branch of {@code plan} (none when no branch spans), each partitioned by target
     * partition and named, as RDD and call site, {@code exchange w=W}; the call site is left at the last one's.
     */
    public static <I, P> List<JavaPairRDD<Integer, P>> perBranch(JavaSparkContext jsc, JavaRDD<I> partitions,
                                                                PartitionPlan plan, Sender<I, P> sender) {
        List<JavaPairRDD<Integer, P>> exchanges = new ArrayList<>();
        for (int b = 0; b < plan.spanning().size(); b++) {
            int branch = b;
            exchanges.add(shuffle(jsc, plan, "exchange w=" + plan.spanning().get(b),
                    () -> partitions.flatMapToPair(partition -> sender.send(branch, partition))));
        }
        return exchanges;
    }

    /** The one part a partition sends for one spanning branch, whoever receives it. */
    @FunctionalInterface
    public interface PartSender<I> extends Serializable {
        ExchangePart part(int branch, I partition);
    }

    /**
     * The forward exchanges of {@code plan}, one per spanning branch, each {@link ExchangeMode#DIRECT direct} or
     * gathered then shared as {@code mode} says: partition {@code p} of each holds, keyed by {@code p}, the parts
     * of the partitions {@code p} attends to ({@link PartitionPlan#received} checks them), whichever way they
     * came. The gathered way's shuffles are named {@code exchange gather w=W} and {@code exchange share w=W}.
     */
    public static <I> List<JavaPairRDD<Integer, ExchangePart>> forward(JavaSparkContext jsc, JavaRDD<I> partitions,
                                                                      PartitionPlan plan, ExchangeMode mode,
                                                                      PartSender<I> sender) {
        List<JavaPairRDD<Integer, ExchangePart>> exchanges = new ArrayList<>();
        for (int b = 0; b < plan.spanning().size(); b++) {
            int branch = b;
            Branch w = plan.spanning().get(b);
            if (!mode.gathers(plan, w)) {
                exchanges.add(shuffle(jsc, plan, "exchange w=" + w, () -> partitions.flatMapToPair(
                        partition -> addressed(plan, w, sender.part(branch, partition)))));
                continue;
            }
            // To the segment's first partition: one block per sending partition.
            JavaPairRDD<Integer, ExchangePart> gathered = shuffle(jsc, plan, "exchange gather w=" + w,
                    () -> partitions.mapToPair(partition -> {
                        ExchangePart part = sender.part(branch, partition);
                        return new Tuple2<>(plan.segmentFirstPartition(w, part.source()), part);
                    }));
            // From there, to each partition of the segment the rows it attends to, as one part of all the sources'
            // rows (its size the payload's, whatever the number of sources): one block per receiving partition.
            // Split into the sources' parts after the shuffle, keeping the partitioning (a union needs it).
            JavaPairRDD<Integer, ExchangePart> shared = shuffle(jsc, plan, "exchange share w=" + w,
                    () -> gathered.mapPartitionsToPair(parts -> share(plan, w, parts)));
            exchanges.add(shared.mapPartitionsToPair(parts -> split(plan, w, parts), true));
        }
        return exchanges;
    }

    /** {@code part} keyed by every partition that attends to it: the direct exchange's addressing. */
    private static Iterator<Tuple2<Integer, ExchangePart>> addressed(PartitionPlan plan, Branch branch,
                                                                   ExchangePart part) {
        List<Tuple2<Integer, ExchangePart>> out = new ArrayList<>();
        int last = plan.segmentLastPartition(branch, part.source());
        for (int dest = plan.firstReceiver(branch, part.source()); dest <= last; dest++) {
            out.add(new Tuple2<>(dest, part));
        }
        return out.iterator();
    }

    /**
     * A gathering partition's parts (one segment's, or none) shared out: to each partition of the segment, the
     * rows of the sources it attends to (from the segment's first partition to {@link PartitionPlan#lastSource};
     * causal: only those at or before it, so rows still go only forward), each head's concatenated in source
     * order, as one part from the segment's first partition.
     */
    private static Iterator<Tuple2<Integer, ExchangePart>> share(PartitionPlan plan, Branch branch,
                                                               Iterator<Tuple2<Integer, ExchangePart>> parts) {
        List<ExchangePart> segment = new ArrayList<>();
        parts.forEachRemaining(t -> segment.add(t._2()));
        segment.sort(Comparator.comparingInt(ExchangePart::source));
        if (segment.isEmpty()) {
            return java.util.Collections.emptyIterator();
        }
        int first = segment.get(0).source();
        int heads = plan.config().heads();
        // Made as the shuffle writer asks for them: a segment over P partitions has P of these, each the payload's size.
        return java.util.stream.IntStream.rangeClosed(first, plan.segmentLastPartition(branch, first)).mapToObj(dest -> {
            List<ExchangePart> sources = segment.subList(0, Math.min(segment.size(),
                    plan.lastSource(branch, dest) - first + 1));
            float[][] keys = new float[heads][];
            float[][] values = new float[heads][];
            for (int h = 0; h < heads; h++) {
                keys[h] = concat(sources, h, true);
                values[h] = concat(sources, h, false);
            }
            return new Tuple2<>(dest, new ExchangePart(sources.get(0).branch(), first, keys, values));
        }).iterator();
    }

    /** The shared parts received, each split back into the parts of its sources ({@link PartitionPlan#selection}). */
    private static Iterator<Tuple2<Integer, ExchangePart>> split(PartitionPlan plan, Branch branch,
                                                               Iterator<Tuple2<Integer, ExchangePart>> shared) {
        int heads = plan.config().heads();
        int d = plan.config().headDim();
        List<Tuple2<Integer, ExchangePart>> out = new ArrayList<>();
        shared.forEachRemaining(t -> {
            ExchangePart all = t._2();
            int[] at = new int[heads];
            for (int src = all.source(); src <= plan.lastSource(branch, t._1()); src++) {
                float[][] keys = new float[heads][];
                float[][] values = new float[heads][];
                for (int h = 0; h < heads; h++) {
                    int rows = plan.selection(branch, src, h).count() * d;
                    keys[h] = Arrays.copyOfRange(all.keys()[h], at[h], at[h] + rows);
                    values[h] = Arrays.copyOfRange(all.values()[h], at[h], at[h] + rows);
                    at[h] += rows;
                }
                out.add(new Tuple2<>(t._1(), new ExchangePart(all.branch(), src, keys, values)));
            }
        });
        return out.iterator();
    }

    /** Head {@code head}'s keys (or values) of {@code parts}, concatenated in their order. */
    static float[] concat(List<ExchangePart> parts, int head, boolean keys) {
        int total = 0;
        for (ExchangePart p : parts) {
            total += (keys ? p.keys() : p.values())[head].length;
        }
        float[] out = new float[total];
        int at = 0;
        for (ExchangePart p : parts) {
            float[] rows = (keys ? p.keys() : p.values())[head];
            System.arraycopy(rows, 0, out, at, rows.length);
            at += rows.length;
        }
        return out;
    }

    /** {@code records} (made with {@code name} as call site) partitioned by target partition, named {@code name}. */
    private static <P> JavaPairRDD<Integer, P> shuffle(JavaSparkContext jsc, PartitionPlan plan, String name,
                                                       java.util.function.Supplier<JavaPairRDD<Integer, P>> records) {
        jsc.setCallSite(name);
        return records.get().partitionBy(new PartitionIdPartitioner(plan.partitions())).setName(name);
    }

    /**
     * The exchanges as one RDD, partition {@code p} holding all parts sent to partition {@code p}; null when
     * there are none. Equal partitioners: Spark unions them partition by partition, no extra shuffle.
     */
    public static <P> JavaPairRDD<Integer, P> union(JavaSparkContext jsc, List<JavaPairRDD<Integer, P>> exchanges) {
        if (exchanges.isEmpty()) {
            return null;
        }
        @SuppressWarnings("unchecked")
        JavaPairRDD<Integer, P>[] all = exchanges.toArray(new JavaPairRDD[0]);
        return jsc.union(all);
    }
}
