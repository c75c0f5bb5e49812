package io.longnet.training;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * How a run trains: the optimiser's settings, the windows, the batch order and the checkpoint interval.
 * All but the checkpoint interval belong to the run's identity ({@link #runState}): a resumed run must
 * share them with the run that wrote its checkpoint ({@link #checkSameRun}).
 *
 * @param steps              optimiser steps in all; a resumed run continues up to this step
 * @param seqLen             tokens per training window
 * @param batch              windows per step
 * @param learningRate       peak learning rate
 * @param warmupSteps        linear warm-up steps; negative: {@link AdamW.Settings#defaults}'s
 * @param weightDecay        AdamW weight decay of the matrices
 * @param clipNorm           the gradient's global norm is clipped to this (0: never)
 * @param seed               seed of a new model's weights and of the batch order
 * @param validationFraction fraction of windows held out (the last ones) for the validation loss, in [0, 1)
 * @param checkpointEvery    a checkpoint every this many steps, and one at the end
 */
public record TrainingSettings(long steps, int seqLen, int batch, double learningRate, int warmupSteps,
                               double weightDecay, double clipNorm, long seed, double validationFraction,
                               int checkpointEvery) {

    private static final ObjectMapper JSON = new ObjectMapper();

    public TrainingSettings {
        if (steps < 1) {
            throw new IllegalArgumentException("--steps must be >= 1 (got " + steps + ")");
        }
        if (validationFraction < 0 || validationFraction >= 1) {
            throw new IllegalArgumentException("--validation must be in [0, 1) (got " + validationFraction + ")");
        }
        if (checkpointEvery < 1) {
            throw new IllegalArgumentException("--checkpoint-every must be >= 1 (got " + checkpointEvery + ")");
        }
    }

    /** The optimiser's defaults ({@link AdamW.Settings#defaults}), with what these settings set. */
    public AdamW.Settings optimizer() {
        AdamW.Settings usual = AdamW.Settings.defaults((int) steps);
        return new AdamW.Settings(learningRate, usual.beta1(), usual.beta2(), usual.epsilon(), weightDecay,
                warmupSteps >= 0 ? warmupSteps : usual.warmupSteps(), usual.totalSteps(), usual.minLearningRateRatio(),
                clipNorm);
    }

    /**
     * The settings a resumed run must share with the run that wrote its checkpoint, with {@code source}, the
     * name of the token data; stored in each checkpoint and in the run's report.
     */
    public ObjectNode runState(String source) {
        return JSON.valueToTree(new RunState(source, steps, seqLen, batch, seed, validationFraction, learningRate,
                warmupSteps, weightDecay, clipNorm));
    }

    /** The JSON form of {@link #runState}, in the order it is written. */
    @JsonPropertyOrder({"tokens", "steps", "seq_len", "batch", "seed", "validation_fraction", "learning_rate",
            "warmup_steps", "weight_decay", "clip_norm"})
    private record RunState(@JsonProperty("tokens") String tokens, @JsonProperty("steps") long steps,
                            @JsonProperty("seq_len") int seqLen, @JsonProperty("batch") int batch,
                            @JsonProperty("seed") long seed,
                            @JsonProperty("validation_fraction") double validationFraction,
                            @JsonProperty("learning_rate") double learningRate,
                            @JsonProperty("warmup_steps") int warmupSteps,
                            @JsonProperty("weight_decay") double weightDecay,
                            @JsonProperty("clip_norm") double clipNorm) {
    }

    /**
     * Checks that these settings, on the token data {@code source}, continue the run whose state a
     * checkpoint holds ({@link TrainingCheckpoint#stateJson()}); names every setting that differs.
     */
    public void checkSameRun(String checkpointState, String source) throws IOException {
        JsonNode saved = JSON.readTree(checkpointState);
        ObjectNode now = runState(source);
        List<String> differ = new ArrayList<>();
        now.fieldNames().forEachRemaining(name -> {
            // As text: JSON reads 6 back as an int node, where a long node was written.
            JsonNode was = saved.get(name);
            if (was == null || !now.get(name).asText().equals(was.asText())) {
                differ.add("--" + name.replace('_', '-') + " " + now.get(name) + " (checkpoint: " + saved.get(name) + ")");
            }
        });
        if (!differ.isEmpty()) {
            throw new IllegalArgumentException("--resume continues the same run, but " + String.join(", ", differ)
                    + "; to train further from these weights start a new run with --init");
        }
    }
}
