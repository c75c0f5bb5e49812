package io.longnet.model;

import io.longnet.attention.Backend;
import io.longnet.attention.CpuAttentionKernel;
import io.longnet.attention.AttentionKernel;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Chooses the decoder for {@code --backend auto|cpu|gpu}, as {@link Backend#open} chooses the
 * attention kernel: {@code cpu} is {@link LongNetModel} with the CPU engine; {@code gpu} is found through
 * {@link java.util.ServiceLoader}; {@code auto} takes the GPU when one is usable and the CPU otherwise, and logs
 * which and why.
 */
public final class ModelDecoders {

    private static final Logger LOG = LoggerFactory.getLogger(ModelDecoders.class);

    private ModelDecoders() {
    }

    /**
     * Opens {@code model} on {@code backend}: with {@code threads} CPU threads, or on GPU
     * {@code device} (-1 when the scheduler assigned none) in the precision the GPU module is configured for.
     */
    public static ModelDecoder open(Backend backend, LongNetModel model, int threads, int device) {
        Optional<ModelDecoderProvider> gpu = backend.usableGpu(ModelDecoderProvider.class, device, "decoder");
        if (gpu.isPresent()) {
            LOG.debug("model backend: gpu (device {})", device);
            return gpu.get().open(model, device);
        }
        return new CpuDecoder(model, Backend.CPU.open(threads, -1));
    }

    /** The CPU model with the CPU attention engine; its name says what its tiles and matrix products ran on. */
    private record CpuDecoder(LongNetModel model, AttentionKernel kernel) implements ModelDecoder {

        @Override
        public String name() {
            return Backend.CPU + " (tiles: " + CpuAttentionKernel.tiles() + "; model products: " + NetlibBlas.describe()
                    + ")";
        }

        @Override
        public LongNetModel.Output forward(int[] tokens, boolean keepHiddenStates) {
            return model.forward(tokens, kernel, keepHiddenStates);
        }

        @Override
        public float[] hiddenStates(int[] tokens, SequenceWindow where, int layers) {
            return model.hiddenStates(tokens, where, kernel, layers);
        }

        @Override
        public float[] nextTokenLogProbs(int[] tokens, SequenceWindow where) {
            return model.nextTokenLogProbs(tokens, where, kernel);
        }

        @Override
        public void close() {
            kernel.close();
        }
    }

    /** Checks a layer count for {@link ModelDecoder#hiddenStates}: 0 (the embeddings) to the model's, or -1. */
    public static int checkLayers(int layers, int modelLayers) {
        if (layers < -1 || layers > modelLayers) {
            throw new IllegalArgumentException("hidden states after " + layers + " layers: the model has " + modelLayers
                    + " (0 for the embeddings, -1 for the final features)");
        }
        return layers;
    }
}
