package io.longnet.jobs;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.size;
import static org.apache.spark.sql.functions.sum;

import io.longnet.model.LongNetConfig;
import io.longnet.spark.PartitionIdPartitioner;
import io.longnet.spark.PartitionPlan;
import io.longnet.spark.SequenceParallelModel.TokenBlock;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import scala.Tuple2;

/**
 * The sequences of a token dataset as the model jobs need them: which fit one partition (run whole inside
 * a task, data-parallel) and which do not (run through the sequence-parallel model, one job each), and
 * the tokens of either kind in that shape. Shared by {@code score} and {@code encode}.
 */
final class TokenSequences {

    private final Dataset<Row> rows;
    private final int blockSize;
    private final Map<Long, Long> lengths = new HashMap<>();
    private final Set<Long> whole = new HashSet<>();
    private final List<Long> spread = new ArrayList<>();

    /** Reads the lengths (one number per sequence: plan metadata for the driver, not data). */
    TokenSequences(Dataset<Row> rows, int blockSize, LongNetConfig config, int partitionLength) {
        this.rows = rows;
        this.blockSize = blockSize;
        for (Row row : rows.groupBy("seq_id").agg(sum(size(col("tokens")))).collectAsList()) {
            lengths.put(row.getLong(0), row.getLong(1));
        }
        for (Map.Entry<Long, Long> e : lengths.entrySet()) {
            PartitionPlan plan = PartitionPlan.of(config.attentionConfig(), e.getValue(), partitionLength,
                    PartitionPlan.DEFAULT_TASK_BYTES);
            (plan.partitions() == 1 ? whole : spread).add(e.getKey());
        }
    }

    long count() {
        return lengths.size();
    }

    long tokens() {
        return lengths.values().stream().mapToLong(Long::longValue).sum();
    }

    long length(long seq) {
        return lengths.get(seq);
    }

    Set<Long> whole() {
        return whole;
    }

    /** Sequences longer than one partition. */
    List<Long> spread() {
        return spread;
    }

    /** The sequences of {@code whole}, each one record (seq_id, its tokens in order). */
    JavaPairRDD<Long, int[]> wholeSequences(Broadcast<Set<Long>> whole) {
        return rows.javaRDD()
                .filter(row -> whole.value().contains(row.getLong(0)))
                .mapToPair(row -> new Tuple2<>(row.getLong(0), new Tuple2<>(row.getLong(1), toInts(row.getList(2)))))
                .groupByKey()
                .mapValues(TokenSequences::concat);
    }

    /**
     * Sequence {@code seq} cut into the partitions of {@code plan} (L a multiple of the block size), each
     * also holding the token after it.
     */
    org.apache.spark.api.java.JavaRDD<TokenBlock> partitioned(long seq, PartitionPlan plan) {
        int length = plan.partitionLength();
        if (length % blockSize != 0) {
            throw new IllegalArgumentException("partition length " + length + " is not a multiple of the token"
                    + " dataset's block size " + blockSize);
        }
        int perPartition = length / blockSize;
        // The first block of a partition also goes to the previous one, which needs its first token.
        return rows.filter(col("seq_id").equalTo(seq)).javaRDD()
                .flatMapToPair(row -> {
                    long block = row.getLong(1);
                    int p = (int) (block / perPartition);
                    int[] ids = toInts(row.getList(2));
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
                    return List.of(new TokenBlock(p, (long) p * length, concat(mine), next)).iterator();
                }, true);
    }

    private static int[] toInts(List<Integer> list) {
        int[] a = new int[list.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = list.get(i);
        }
        return a;
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
