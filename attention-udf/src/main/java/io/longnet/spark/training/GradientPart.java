package io.longnet.spark.training;

import java.io.Serializable;

/**
 * What partition {@code source} returns to the owner of key/value rows it gathered for spanning branch
 * number {@code branch}: per head, the gradients of the owner's sparse rows ({@code rows * d} doubles, the
 * layout of {@link TrainingExchangePart}). The part a partition returns to itself also carries {@code dq},
 * its queries' gradient from this branch ({@code length * H * d}); {@code dq} is null in all others.
 */
public record GradientPart(int branch, int source, double[][] dKeys, double[][] dValues, double[] dq)
        implements Serializable {
}
