package io.longnet.attention;

/**
 * The shape of one layer's attention: {@code heads} heads of width {@code headDim}, causal or not. What a
 * model checks a {@link TrainingAttention} against before it runs it.
 */
public record AttentionShape(int heads, int headDim, boolean causal) {

    public AttentionShape {
        if (heads < 1) {
            throw new IllegalArgumentException("heads must be >= 1 (got " + heads + ")");
        }
        if (headDim < 1) {
            throw new IllegalArgumentException("head width must be >= 1 (got " + headDim + ")");
        }
    }

    /** For messages: "2 heads of width 8, causal". */
    public String describe() {
        return heads + " heads of width " + headDim + (causal ? ", causal" : ", not causal");
    }
}
