package io.longnet.spark.training;

import java.io.Serializable;

/**
 * What a set of training sequences contributes to one step: the sum of their next-token losses
 * ({@code -log P}), how many tokens were predicted, and the loss's gradient with respect to every
 * parameter ({@code null} for a forward-only evaluation).
 */
public record GradientSum(double loss, long predictions, double[] gradient) implements Serializable {

    /**
     * The sum of two contributions. Floating-point addition of two values is commutative, so
     * {@code a.plus(b)} and {@code b.plus(a)} are bit-identical: what makes {@link PairwiseTreeSum}
     * deterministic. Neither operand is changed (Spark may hold either in a cache).
     */
    public GradientSum plus(GradientSum other) {
        if ((gradient == null) != (other.gradient == null)) {
            throw new IllegalArgumentException("cannot add a gradient to a forward-only evaluation");
        }
        double[] sum = null;
        if (gradient != null) {
            if (gradient.length != other.gradient.length) {
                throw new IllegalArgumentException("gradients of " + gradient.length + " and "
                        + other.gradient.length + " parameters");
            }
            sum = new double[gradient.length];
            for (int i = 0; i < sum.length; i++) {
                sum[i] = gradient[i] + other.gradient[i];
            }
        }
        return new GradientSum(loss + other.loss, predictions + other.predictions, sum);
    }

    /** Mean loss per predicted token (nats). */
    public double meanLoss() {
        return predictions == 0 ? Double.NaN : loss / predictions;
    }
}
