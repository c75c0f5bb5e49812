package io.longnet.spark;

import io.longnet.attention.Backend;
import io.longnet.model.LongNetConfig;
import io.longnet.model.LongNetModel;
import io.longnet.model.ModelWeights;
import io.longnet.model.SequenceWindow;
import io.longnet.model.Xpos;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.storage.StorageLevel;

/**
 * The LongNet decoder over one sequence spread over Spark partitions (docs/ARCHITECTURE.md §4): per layer, each
 * partition computes its q, k, v locally, the attention runs through {@link SequenceParallelAttention}
 * (one exchange shuffle per spanning branch), and the output projection and feed-forward block run
 * locally again. Config and weights travel as broadcasts; the driver holds only the plan.
 */
public final class SequenceParallelModel implements Serializable {

    /** Tokens of one partition, and the token after it ({@code -1} at the end of the sequence). */
    public record TokenPartition(int partition, long start, int[] tokens, int nextToken) implements Serializable {
    }

    /** Hidden states {@code [length][d_model]} of one partition. */
    public record HiddenPartition(int partition, long start, int length, float[] x) implements Serializable {
    }

    /** {@code lp[i] = log P(token at start + i + 1 | tokens up to start + i)} of one partition. */
    public record LogProbPartition(int partition, long start, float[] logProbs) implements Serializable {
    }

    private final Broadcast<LongNetConfig> config;
    private final Broadcast<ModelWeights> weights;
    private final PartitionPlan plan;
    private final Backend backend;
    private final int checkpointEvery;

    /**
     * A model over sequences of {@code n} positions cut by {@code plan}'s rules ({@code partitionLength}
     * 0: chosen); every {@code checkpointEvery} layers (0: never) the hidden states are checkpointed into
     * the context's checkpoint directory (which must be set then), so that a lost executor recomputes at
     * most that many layers.
     */
    public SequenceParallelModel(JavaSparkContext jsc, LongNetConfig config, ModelWeights weights, long n,
                                 int partitionLength, Backend backend, int checkpointEvery) {
        this(jsc, config, weights, PartitionPlan.of(config.attentionConfig(), n, partitionLength,
                PartitionPlan.DEFAULT_TASK_BYTES), backend, checkpointEvery);
    }

    /** As the other constructor, over the partitions of {@code plan}. */
    public SequenceParallelModel(JavaSparkContext jsc, LongNetConfig config, ModelWeights weights, PartitionPlan plan,
                                 Backend backend, int checkpointEvery) {
        new LongNetModel(config, weights); // validates the weights against the config, once, on the driver
        if (checkpointEvery > 0 && !jsc.getCheckpointDir().isPresent()) {
            throw new IllegalArgumentException("checkpoints every " + checkpointEvery + " layers need a checkpoint"
                    + " directory (SparkContext.setCheckpointDir)");
        }
        this.plan = plan;
        this.config = jsc.broadcast(config);
        this.weights = jsc.broadcast(weights);
        this.backend = Objects.requireNonNull(backend, "backend");
        this.checkpointEvery = checkpointEvery;
    }

    public PartitionPlan plan() {
        return plan;
    }

    /** The model of a task (cheap: the arrays are the broadcast's). */
    private LongNetModel model() {
        return new LongNetModel(config.value(), weights.value());
    }

    /** Hidden states after {@code layers} layers (0: the embeddings), before the final LayerNorm. */
    public JavaRDD<HiddenPartition> hidden(JavaRDD<TokenPartition> tokens, int layers) {
        int total = config.value().layers();
        if (layers < 0 || layers > total) {
            throw new IllegalArgumentException("layer " + layers + " does not exist (0.." + total + ")");
        }
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(tokens.context());
        jsc.setCallSite("embed");
        JavaRDD<HiddenPartition> x = tokens.map(t -> new HiddenPartition(t.partition(), t.start(), t.tokens().length,
                model().embed(t.tokens())));
        for (int l = 0; l < layers; l++) {
            x = layer(jsc, x, l);
            if (checkpointEvery > 0 && (l + 1) % checkpointEvery == 0 && l + 1 < layers) {
                x.persist(StorageLevel.MEMORY_AND_DISK());
                x.checkpoint(); // written when the next job computes x; persisted, so computed once
            }
        }
        jsc.clearCallSite();
        return x;
    }

    /** One decoder layer: local q, k, v; the plan's exchange and attend stages; local projection and FFN. */
    private JavaRDD<HiddenPartition> layer(JavaSparkContext jsc, JavaRDD<HiddenPartition> x, int layer) {
        // Read twice (for q, k, v and for the residual): kept, or the chain would recompute it per use.
        x.persist(StorageLevel.MEMORY_AND_DISK());
        long n = plan.n();
        jsc.setCallSite("layer " + layer + " qkv");
        JavaRDD<QkvPartition> qkv = x.map(h -> {
            LongNetModel m = model();
            int width = m.config().dModel();
            float[] q = new float[h.length() * width];
            float[] k = new float[h.length() * width];
            float[] v = new float[h.length() * width];
            Xpos.Table positions = m.xpos().table(h.start(), h.length(), n);
            m.attentionInputs(layer, h.x(), h.length(), positions, q, k, v);
            return new QkvPartition(h.partition(), h.start(), h.length(), q, k, v);
        });
        JavaRDD<AttentionPartition> attended = SequenceParallelAttention.attend(qkv, plan, backend);
        jsc.setCallSite("layer " + layer + " ffn");
        return x.zipPartitions(attended, (hs, as) -> {
            List<HiddenPartition> out = new ArrayList<>(1);
            while (hs.hasNext()) {
                HiddenPartition h = hs.next();
                AttentionPartition a = as.next();
                LongNetModel m = model();
                float[] y = h.x().clone();
                m.attentionOutput(layer, a.o(), h.length(), y);
                m.feedForward(layer, y, h.length());
                out.add(new HiddenPartition(h.partition(), h.start(), h.length(), y));
            }
            return out.iterator();
        });
    }

    /** Final features (all layers, then the final LayerNorm): what the LM head reads. */
    public JavaRDD<HiddenPartition> features(JavaRDD<TokenPartition> tokens) {
        return hidden(tokens, config.value().layers()).map(h -> {
            float[] y = h.x().clone();
            model().finalNorm(y, h.length());
            return new HiddenPartition(h.partition(), h.start(), h.length(), y);
        });
    }

    /** Next-token log-probabilities of every position but the sequence's last. */
    public JavaRDD<LogProbPartition> nextTokenLogProbs(JavaRDD<TokenPartition> tokens) {
        JavaRDD<HiddenPartition> features = features(tokens);
        return features.zipPartitions(tokens, (fs, ts) -> {
            List<LogProbPartition> out = new ArrayList<>(1);
            while (fs.hasNext()) {
                HiddenPartition f = fs.next();
                TokenPartition t = ts.next();
                SequenceWindow where = new SequenceWindow(t.start(), plan.n(), t.nextToken());
                out.add(new LogProbPartition(f.partition(), f.start(), model().nextTokenLogProbs(f.x(),
                        where.scored(t.tokens().length), LongNetModel.targets(t.tokens(), where))));
            }
            return out.iterator();
        });
    }
}
