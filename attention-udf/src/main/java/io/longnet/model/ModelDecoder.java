package io.longnet.model;

/**
 * A LongNet decoder on one backend: the CPU model with the CPU attention engine, or a device-resident
 * implementation found through {@link ModelDecoderProvider} (the GPU module's, docs/ARCHITECTURE.md §5).
 * Its outputs are those of {@link LongNetModel} on the same weights, within the backend's precision. Besides
 * whole sequences it computes runs of a sequence that need nothing outside them ({@link SequenceWindow}):
 * the partitions of a plan whose branches are all local.
 */
public interface ModelDecoder extends AutoCloseable {

    /** What runs, e.g. {@code gpu:0 (NVIDIA H200, bf16 model)}. */
    String name();

    /** As {@link LongNetModel#forward}: final features and, when asked, the embeddings and every layer's output. */
    LongNetModel.Output forward(int[] tokens, boolean keepHiddenStates);

    /**
     * As {@link LongNetModel#hiddenStates(int[], SequenceWindow, io.longnet.attention.AttentionKernel, int)}:
     * {@code [n][d_model]} after {@code layers} layers (0: the embeddings; -1: the final features), without
     * running the layers above.
     */
    float[] hiddenStates(int[] tokens, SequenceWindow where, int layers);

    /** As {@link LongNetModel#nextTokenLogProbs(int[], SequenceWindow, io.longnet.attention.AttentionKernel)}. */
    float[] nextTokenLogProbs(int[] tokens, SequenceWindow where);

    /** {@link #hiddenStates(int[], SequenceWindow, int)} of a whole sequence. */
    default float[] hiddenStates(int[] tokens, int layers) {
        return hiddenStates(tokens, SequenceWindow.whole(tokens.length), layers);
    }

    /** {@code N - 1} next-token log-probabilities of a whole sequence. */
    default float[] nextTokenLogProbs(int[] tokens) {
        return nextTokenLogProbs(tokens, SequenceWindow.whole(tokens.length));
    }

    @Override
    void close();
}
