package io.longnet.model;

import io.longnet.attention.BackendProvider;

/**
 * A device-resident decoder other modules contribute through {@link java.util.ServiceLoader} (the GPU
 * module registers one in {@code META-INF/services}); the model package never names its classes.
 */
public interface ModelDecoderProvider extends BackendProvider {

    /**
     * A decoder of {@code model} on device {@code device}, in the precision the provider is configured for;
     * tasks of one process that open the same weights on one device may share their upload.
     */
    ModelDecoder open(LongNetModel model, int device);
}
