package io.longnet.gpu;

import io.longnet.attention.AttentionKernel;
import io.longnet.attention.AttentionKernelProvider;

/**
 * Registers the GPU backend with the engine ({@code META-INF/services}). Precision: the system property
 * {@code longnet.gpu.precision} ({@code bf16}, the default, or {@code fp32}).
 */
public final class GpuKernelProvider implements AttentionKernelProvider {

    @Override
    public String name() {
        return "gpu";
    }

    @Override
    public String unavailableReason() {
        return CudaDevices.pool().unavailableReason();
    }

    @Override
    public AttentionKernel open(int device) {
        return new GpuAttentionKernel(device, Precision.parse(System.getProperty("longnet.gpu.precision", "bf16")));
    }
}
