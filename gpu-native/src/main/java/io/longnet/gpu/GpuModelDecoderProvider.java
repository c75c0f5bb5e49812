package io.longnet.gpu;

import io.longnet.attention.Backend;
import io.longnet.model.LongNetModel;
import io.longnet.model.ModelDecoder;
import io.longnet.model.ModelDecoderProvider;

/** Registers the device-resident decoder with the model ({@code META-INF/services}). */
public final class GpuModelDecoderProvider implements ModelDecoderProvider {

    @Override
    public Backend backend() {
        return Backend.GPU;
    }

    @Override
    public String unavailableReason() {
        String reason = CudaDevices.pool().unavailableReason();
        return reason != null ? reason : CublasGemm.unavailableReason();
    }

    @Override
    public ModelDecoder open(LongNetModel model, int device, String precision) {
        return new DeviceDecoder(model, device, Precision.parse(precision));
    }
}
