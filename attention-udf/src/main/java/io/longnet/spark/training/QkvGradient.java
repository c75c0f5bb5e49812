package io.longnet.spark.training;

import java.io.Serializable;

/** Gradients of a loss with respect to one partition's q, k and v, laid out like {@link TrainingQkv}. */
public record QkvGradient(int partition, long start, int length, double[] dq, double[] dk, double[] dv)
        implements Serializable {
}
