package io.longnet.model;

import io.longnet.attention.BackendProvider;

/**
 * A device-resident decoder other modules contribute through {@link java.util.ServiceLoader} (the GPU
 * module registers one in {@code META-INF/services}); the model package never names its classes.
 */
public interface ModelDecoderProvider extends BackendProvider {

    /**
     * Uploads {@code model}'s weights to device {@code device} and returns a decoder computing in
     * {@code precision} ({@code bf16} or {@code fp32}).
     */
    ModelDecoder open(LongNetModel model, int device, String precision);
}
