package io.longnet.gpu;

import io.longnet.attention.AttentionKernel;
import io.longnet.attention.Backend;
import io.longnet.attention.AttentionKernelProvider;

/**
 * Registers the GPU backend with the engine ({@code META-INF/services}); each kernel computes in the
 * precision {@link Precision#configured()} names.
 */
public final class GpuKernelProvider implements AttentionKernelProvider {

    @Override
    public Backend backend() {
        return Backend.GPU;
    }

    @Override
    public String unavailableReason() {
        return CudaDevices.pool().unavailableReason();
    }

    @Override
    public AttentionKernel open(int device) {
        return new GpuAttentionKernel(device, Precision.configured());
    }
}
