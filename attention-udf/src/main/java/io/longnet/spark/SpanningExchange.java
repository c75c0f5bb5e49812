package io.longnet.spark;

import java.io.Serializable;
import java.util.ArrayList;
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
 * are this class's.
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
            String name = "exchange w=" + plan.spanning().get(b);
            jsc.setCallSite(name);
            JavaPairRDD<Integer, P> sent = partitions.flatMapToPair(partition -> sender.send(branch, partition));
            exchanges.add(sent.partitionBy(new PartitionIdPartitioner(plan.partitions())).setName(name));
        }
        return exchanges;
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
