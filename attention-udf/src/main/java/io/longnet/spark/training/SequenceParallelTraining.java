package io.longnet.spark.training;

import io.longnet.attention.ParallelRows;
import io.longnet.model.LongNetConfig;
import io.longnet.spark.PartitionPlan;
import io.longnet.spark.SequenceParallelModel.TokenPartition;
import io.longnet.training.ParameterLayout;
import io.longnet.training.TrainableModel;
import io.longnet.training.TrainableModel.AttentionInputs;
import io.longnet.training.TrainableModel.AttentionOutput;
import io.longnet.training.TrainableModel.FeedForward;
import io.longnet.training.TrainableModel.Head;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.storage.StorageLevel;
import scala.Tuple2;

/**
 * Loss and gradients of one sequence spread over the partitions of a {@link PartitionPlan}: the
 * decoder's row-local pieces ({@link TrainableModel}) run inside each partition, and the attention of
 * every layer, forward and backward, through {@link SequenceParallelGradients} (the exchange of
 * sparsified keys and values, and on the way back the return of their gradients to their owners).
 *
 * <p>The forward pass keeps each layer's saved activations as persisted RDDs of one record per
 * partition; the backward pass walks the layers in reverse, and each partition's parameter gradient
 * travels along with its {@code dx}. All is unpersisted when the step's sum has been taken.
 */
final class SequenceParallelTraining implements Serializable {

    /** What the backward pass carries per partition: the gradient w.r.t. its rows, and its parameter gradient. */
    private record Back(int partition, long start, int length, double[] dx, double[] grad, double loss,
                        long predictions) implements Serializable {
    }

    /** One layer's saved forward state, all RDDs of one record per partition, aligned. */
    private record LayerState(JavaRDD<AttentionInputs> inputs, JavaRDD<TrainingQkv> qkv,
                              JavaRDD<TrainingOutput> attention, JavaRDD<AttentionOutput> attentionOut,
                              JavaRDD<FeedForward> feedForward) {
    }

    private final LongNetConfig config;
    private final PartitionPlan plan;
    private final Broadcast<double[]> params;

    SequenceParallelTraining(LongNetConfig config, PartitionPlan plan, Broadcast<double[]> params) {
        this.config = config;
        this.plan = plan;
        this.params = params;
    }

    /** Runs {@code piece} on the model inside a task, its rows split over the task's cores ({@link TaskCpus}). */
    private <T> T onModel(Function<TrainableModel, T> piece) {
        try (ParallelRows threads = new ParallelRows(TaskCpus.threads())) {
            return piece.apply(new TrainableModel(config, params.value(), threads));
        }
    }

    /** Loss (and gradient) of the sequence whose partitions {@code tokens} holds, partition p in partition p. */
    GradientSum compute(JavaRDD<TokenPartition> tokens, boolean withGradient) {
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(tokens.context());
        List<JavaRDD<?>> kept = new ArrayList<>();
        tokens = keep(tokens, kept);
        long n = plan.n();
        int layers = config.layers();
        jsc.setCallSite("embed");
        JavaRDD<double[]> x = keep(tokens.map(t -> onModel(m -> m.embed(t.tokens()))), kept);
        List<LayerState> states = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            int layer = l;
            jsc.setCallSite("layer " + l + " qkv");
            JavaRDD<AttentionInputs> inputs = keep(tokens.zip(x).map(t -> onModel(m -> m.attentionInputs(layer,
                    t._2(), t._1().tokens().length, t._1().start(), n))), kept);
            JavaRDD<TrainingQkv> qkv = keep(tokens.zip(inputs).map(t -> new TrainingQkv(t._1().partition(),
                    t._1().start(), t._1().tokens().length, t._2().q(), t._2().k(), t._2().v())), kept);
            JavaRDD<TrainingOutput> attention = keep(SequenceParallelGradients.forward(qkv, plan), kept);
            jsc.setCallSite("layer " + l + " ffn");
            JavaRDD<AttentionOutput> attentionOut = keep(x.zip(attention).map(t -> onModel(m -> m.attentionOutput(layer,
                    t._1(), t._2().o(), t._2().length()))), kept);
            JavaRDD<FeedForward> feedForward = keep(attentionOut.map(s -> onModel(m -> m.feedForward(layer, s.y(),
                    s.y().length / config.dModel()))), kept);
            states.add(new LayerState(inputs, qkv, attention, attentionOut, feedForward));
            x = feedForward.map(FeedForward::y);
        }
        jsc.setCallSite("head");
        JavaRDD<Head> heads = keep(tokens.zip(x).map(t -> {
            TokenPartition b = t._1();
            int length = b.tokens().length;
            int count = b.nextToken() < 0 ? length - 1 : length;
            int[] targets = new int[length];
            System.arraycopy(b.tokens(), 1, targets, 0, length - 1);
            targets[length - 1] = Math.max(b.nextToken(), 0);
            return onModel(m -> m.head(t._2(), length, targets, count));
        }), kept);
        int parameters = ParameterLayout.of(config).size();
        JavaPairRDD<Integer, GradientSum> parts;
        if (!withGradient) {
            parts = tokens.zip(heads).mapToPair(t -> new Tuple2<>(t._1().partition(),
                    new GradientSum(t._2().loss(), t._2().count(), null)));
        } else {
            parts = backward(jsc, tokens, heads, states, parameters, kept);
        }
        GradientSum sum = PairwiseTreeSum.sum(parts, plan.partitions(), "sequence");
        for (JavaRDD<?> rdd : kept) {
            rdd.unpersist(false);
        }
        jsc.clearCallSite();
        return sum;
    }

    private JavaPairRDD<Integer, GradientSum> backward(JavaSparkContext jsc, JavaRDD<TokenPartition> tokens,
                                                        JavaRDD<Head> heads, List<LayerState> states,
                                                        int parameters, List<JavaRDD<?>> kept) {
        jsc.setCallSite("head backward");
        JavaRDD<Back> back = keep(tokens.zip(heads).map(t -> {
            double[] grad = new double[parameters];
            double[] dx = onModel(m -> m.headBackward(t._2(), grad));
            return new Back(t._1().partition(), t._1().start(), t._1().tokens().length, dx, grad, t._2().loss(),
                    t._2().count());
        }), kept);
        for (int l = states.size() - 1; l >= 0; l--) {
            LayerState s = states.get(l);
            jsc.setCallSite("layer " + l + " ffn and out_proj backward");
            // The parameter gradient is copied, never changed in place: its parent RDD may be recomputed.
            JavaRDD<Tuple2<Back, double[]>> withDo = keep(back.zip(s.feedForward()).zip(s.attentionOut()).map(t -> {
                Back b = t._1()._1();
                double[] grad = b.grad().clone();
                double[][] both = onModel(m -> {
                    double[] mid = m.feedForwardBackward(t._1()._2(), b.dx(), grad);
                    return new double[][] {mid, m.attentionOutputBackward(t._2(), mid, grad)};
                });
                double[] dmid = both[0];
                double[] dO = both[1];
                return new Tuple2<>(new Back(b.partition(), b.start(), b.length(), dmid, grad, b.loss(),
                        b.predictions()), dO);
            }), kept);
            JavaRDD<RowPartition> dO = withDo.map(t -> new RowPartition(t._1().partition(), t._1().start(), t._1().length(),
                    t._2()));
            JavaRDD<QkvGradient> dqkv = SequenceParallelGradients.backward(s.qkv(), s.attention(), dO, plan);
            jsc.setCallSite("layer " + l + " qkv backward");
            back = keep(withDo.zip(s.inputs()).zip(dqkv).map(t -> {
                Back b = t._1()._1()._1();
                QkvGradient g = t._2();
                double[] grad = b.grad().clone();
                double[] dx = onModel(m -> m.attentionInputsBackward(t._1()._2(), g.dq(), g.dk(), g.dv(), grad));
                double[] residual = b.dx();
                for (int i = 0; i < dx.length; i++) {
                    dx[i] += residual[i];
                }
                return new Back(b.partition(), b.start(), b.length(), dx, grad, b.loss(), b.predictions());
            }), kept);
        }
        jsc.setCallSite("embed backward");
        return back.zip(tokens).mapToPair(t -> {
            Back b = t._1();
            double[] grad = b.grad().clone();
            onModel(m -> {
                m.embedBackward(t._2().tokens(), b.dx(), grad);
                return null;
            });
            return new Tuple2<>(b.partition(), new GradientSum(b.loss(), b.predictions(), grad));
        });
    }

    /** Persists {@code rdd} (read more than once in the pass) and remembers it for unpersisting. */
    private static <T> JavaRDD<T> keep(JavaRDD<T> rdd, List<JavaRDD<?>> kept) {
        rdd.persist(StorageLevel.MEMORY_ONLY());
        kept.add(rdd);
        return rdd;
    }
}
