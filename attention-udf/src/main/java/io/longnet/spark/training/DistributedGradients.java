package io.longnet.spark.training;

import io.longnet.attention.ParallelRows;
import io.longnet.attention.TrainingAttention;
import io.longnet.model.LongNetConfig;
import io.longnet.spark.PartitionIdPartitioner;
import io.longnet.spark.PartitionPlan;
import io.longnet.spark.SequenceParallelModel.TokenPartition;
import io.longnet.training.TrainableModel;
import io.longnet.training.TrainingAttentions;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import scala.Tuple2;

/**
 * Loss and parameter gradients of a batch of training windows, on Spark (docs/ARCHITECTURE.md §4, §7). A window
 * that fits one partition runs whole inside a task, on the task's cores ({@code spark.task.cpus}), and the
 * batch's windows are spread over tasks (data-parallel). A longer window is cut into the partitions of a {@link PartitionPlan} and goes through
 * {@link SequenceParallelTraining} (sequence-parallel, one window after another). Either way the
 * contributions are summed by {@link PairwiseTreeSum}, so a step's gradient does not depend on task
 * timing.
 */
public final class DistributedGradients implements Serializable {

    private final LongNetConfig config;
    private final PartitionPlan plan;
    private final int tasks;

    /**
     * Gradients of windows of {@code windowLength} tokens of a model of shape {@code config}, over at most
     * {@code tasks} tasks per data-parallel step; windows longer than {@code partitionLength} (0: as long
     * as the plan's automatic choice) are spread over partitions.
     */
    public DistributedGradients(LongNetConfig config, int windowLength, int partitionLength, int tasks) {
        if (windowLength < 2) {
            throw new IllegalArgumentException("sequence length must be >= 2 to predict anything (got "
                    + windowLength + ")");
        }
        if (tasks < 1) {
            throw new IllegalArgumentException("tasks must be >= 1 (got " + tasks + ")");
        }
        this.config = config;
        PartitionPlan p = config.attentionPattern() == io.longnet.model.AttentionPattern.DILATED
                ? PartitionPlan.of(config.attentionConfig(), windowLength, partitionLength,
                PartitionPlan.DEFAULT_TASK_BYTES)
                : null;
        if (p == null && partitionLength > 0 && partitionLength < windowLength) {
            throw new IllegalArgumentException("the " + config.attentionPattern().jsonName() + " baseline runs a"
                    + " sequence inside one task only: give a partition length of at least --seq-len "
                    + windowLength + " (or 0)");
        }
        this.plan = p != null && p.partitions() > 1 ? p : null;
        this.tasks = tasks;
    }

    /** Whether each window is spread over several partitions. */
    public boolean sequenceParallel() {
        return plan != null;
    }

    /** The plan of a spread window ({@code null} when windows run whole). */
    public PartitionPlan plan() {
        return plan;
    }

    /**
     * The summed loss, predictions and (when {@code withGradient}) gradient of the windows {@code ids}
     * (in this order) of {@code windows}, at parameters {@code params}.
     */
    public GradientSum compute(JavaRDD<TrainingWindow> windows, List<Long> ids, Broadcast<double[]> params,
                               boolean withGradient) {
        if (ids.isEmpty()) {
            throw new IllegalArgumentException("an empty batch");
        }
        if (plan == null) {
            return dataParallel(windows, ids, params, withGradient);
        }
        GradientSum total = null;
        for (long id : ids) {
            JavaRDD<TokenPartition> blocks = blocks(windows, id);
            GradientSum one = new SequenceParallelTraining(config, plan, params).compute(blocks, withGradient);
            total = total == null ? one : total.plus(one);
        }
        return total;
    }

    /** Batch slot {@code i} goes to task {@code i mod tasks}; each task sums its windows in slot order. */
    private GradientSum dataParallel(JavaRDD<TrainingWindow> windows, List<Long> ids, Broadcast<double[]> params,
                                     boolean withGradient) {
        int used = Math.min(tasks, ids.size());
        java.util.Map<Long, Integer> slot = new java.util.HashMap<>();
        for (int i = 0; i < ids.size(); i++) {
            if (slot.put(ids.get(i), i) != null) {
                throw new IllegalArgumentException("window " + ids.get(i) + " is twice in one batch");
            }
        }
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(windows.context());
        Broadcast<java.util.Map<Long, Integer>> slots = jsc.broadcast(slot);
        LongNetConfig c = config;
        jsc.setCallSite(withGradient ? "forward+backward" : "evaluate");
        JavaPairRDD<Integer, GradientSum> parts = windows
                .filter(w -> slots.value().containsKey(w.id()))
                .mapToPair(w -> {
                    int s = slots.value().get(w.id());
                    return new Tuple2<>(s % used, new Tuple2<>(s, w));
                })
                .partitionBy(new PartitionIdPartitioner(used))
                .mapPartitionsToPair(it -> {
                    List<Tuple2<Integer, TrainingWindow>> mine = new ArrayList<>();
                    it.forEachRemaining(t -> mine.add(t._2()));
                    mine.sort(Comparator.comparingInt(Tuple2::_1));
                    double[] gradient = null;
                    double loss = 0;
                    long predictions = 0;
                    // The window's rows and attention over the task's cores (spark.task.cpus).
                    try (ParallelRows threads = new ParallelRows(TaskCpus.threads())) {
                        TrainableModel model = new TrainableModel(c, params.value(), threads);
                        TrainingAttention attention = TrainingAttentions.of(c, threads);
                        gradient = withGradient ? new double[model.layout().size()] : null;
                        for (Tuple2<Integer, TrainingWindow> t : mine) {
                            int[] tokens = t._2().tokens();
                            loss += withGradient ? model.lossAndGradient(tokens, attention, gradient)
                                    : model.loss(tokens, attention);
                            predictions += tokens.length - 1;
                        }
                    }
                    int task = TaskContext.getPartitionId();
                    return List.of(new Tuple2<>(task, new GradientSum(loss, predictions, gradient))).iterator();
                });
        GradientSum sum = PairwiseTreeSum.sum(parts, used, withGradient ? "gradient" : "evaluation");
        slots.destroy();
        jsc.clearCallSite();
        return sum;
    }

    /** Window {@code id} cut into the plan's partitions, each also holding the token after it. */
    private JavaRDD<TokenPartition> blocks(JavaRDD<TrainingWindow> windows, long id) {
        PartitionPlan p = plan;
        return windows.filter(w -> w.id() == id)
                .flatMapToPair(w -> {
                    List<Tuple2<Integer, TokenPartition>> out = new ArrayList<>(p.partitions());
                    for (int part = 0; part < p.partitions(); part++) {
                        int start = (int) p.start(part);
                        int length = p.length(part);
                        int end = start + length;
                        int next = end < w.tokens().length ? w.tokens()[end] : -1;
                        out.add(new Tuple2<>(part, new TokenPartition(part, start,
                                java.util.Arrays.copyOfRange(w.tokens(), start, end), next)));
                    }
                    return out.iterator();
                })
                .partitionBy(new PartitionIdPartitioner(p.partitions()))
                .values();
    }

}
