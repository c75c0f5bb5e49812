package io.longnet.model;

/**
 * A LongNet decoder that runs whole sequences on one backend: the CPU model with the CPU attention
 * engine, or a device-resident implementation found through {@link ModelDecoderProvider} (the GPU
 * module's, docs/ARCHITECTURE.md §5). Its outputs are those of {@link LongNetModel} on the same weights,
 * within the backend's precision.
 */
public interface ModelDecoder extends AutoCloseable {

    /** What runs, e.g. {@code gpu:0 (NVIDIA H200, bf16)}. */
    String name();

    /** As {@link LongNetModel#forward}: final features and, when asked, the embeddings and every layer's output. */
    LongNetModel.Output forward(int[] tokens, boolean keepHiddenStates);

    /**
     * The hidden states {@code [N][d_model]} after the first {@code layers} layers (0: the embeddings),
     * before the final LayerNorm: {@code forward(tokens, true).hiddenStates().get(layers)}, without
     * running the layers above.
     */
    float[] hiddenStates(int[] tokens, int layers);

    /** As {@link LongNetModel#nextTokenLogProbs(int[], io.longnet.attention.AttentionKernel)}: {@code N - 1} values. */
    float[] nextTokenLogProbs(int[] tokens);

    @Override
    void close();
}
