package io.longnet.attention;

/**
 * Attention in float64 with exact gradients: the engine training uses (docs/ARCHITECTURE.md §7). Arrays are flat,
 * {@code [N][H][d]} for q, k, v, o and their gradients, {@code [N][H]} for lse. The forward pass returns the
 * log-sum-exp of every query's attention weights, and the backward pass recomputes the weights from it
 * (flash-style): no {@code N x N} or {@code w x w} matrix is kept.
 *
 * <p>float64 because the gradients are checked against central finite differences to a
 * relative error below 1e-6, which float32 cannot show; inference keeps the float32 {@link AttentionKernel}.
 */
public interface TrainingAttention {

    /** Heads, head width and causality: what a model checks before it runs this attention. */
    AttentionShape shape();

    /** Writes {@code o} ({@code n * H * d}) and {@code lse} ({@code n * H}) for {@code n} positions. */
    void forward(double[] q, double[] k, double[] v, int n, double[] o, double[] lse);

    /**
     * Adds to {@code dq}, {@code dk}, {@code dv} the gradients of a loss with respect to q, k, v, given the
     * forward pass's {@code o} and {@code lse} and the loss's gradient {@code dO} with respect to o.
     */
    void backward(double[] q, double[] k, double[] v, int n, double[] o, double[] lse, double[] dO,
                  double[] dq, double[] dk, double[] dv);
}
