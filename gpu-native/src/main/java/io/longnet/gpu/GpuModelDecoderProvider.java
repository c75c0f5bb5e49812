package io.longnet.gpu;

import io.longnet.attention.Backend;
import io.longnet.model.LongNetModel;
import io.longnet.model.ModelDecoder;
import io.longnet.model.ModelDecoderProvider;
import io.longnet.model.SequenceWindow;
import java.util.HashMap;
import java.util.Map;

/**
 * Registers the device-resident decoder with the model ({@code META-INF/services}). The tasks of one
 * executor that open the same weights (one broadcast value) on one device share one {@link DeviceDecoder}:
 * the weights are uploaded once and the calls take turns on the GPU; the last task to close it frees it.
 */
public final class GpuModelDecoderProvider implements ModelDecoderProvider {

    /** Open decoders by weights (identity), device and precision. */
    private static final Map<Key, Shared> OPEN = new HashMap<>();

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
    public ModelDecoder open(LongNetModel model, int device) {
        Key key = new Key(model.weights(), model.config(), device, Precision.configured());
        synchronized (OPEN) {
            Shared shared = OPEN.get(key);
            if (shared == null) {
                shared = new Shared(key, new DeviceDecoder(model, device, key.precision()));
                OPEN.put(key, shared);
            }
            shared.users++;
            return new Handle(shared);
        }
    }

    /** Weights by identity: equal arrays in two models are still two uploads, never a deep comparison. */
    private record Key(Object weights, Object config, int device, Precision precision) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && k.weights == weights && k.config == config && k.device == device
                    && k.precision == precision;
        }

        @Override
        public int hashCode() {
            return System.identityHashCode(weights) * 31 + device * 7 + precision.ordinal();
        }
    }

    private static final class Shared {
        final Key key;
        final DeviceDecoder decoder;
        int users;

        Shared(Key key, DeviceDecoder decoder) {
            this.key = key;
            this.decoder = decoder;
        }
    }

    /** One task's use of a shared decoder; closing it releases that use, once. */
    private static final class Handle implements ModelDecoder {
        private Shared shared;

        Handle(Shared shared) {
            this.shared = shared;
        }

        private DeviceDecoder decoder() {
            if (shared == null) {
                throw new IllegalStateException("decoder closed");
            }
            return shared.decoder;
        }

        @Override
        public String name() {
            return decoder().name();
        }

        @Override
        public LongNetModel.Output forward(int[] tokens, boolean keepHiddenStates) {
            return decoder().forward(tokens, keepHiddenStates);
        }

        @Override
        public float[] hiddenStates(int[] tokens, SequenceWindow where, int layers) {
            return decoder().hiddenStates(tokens, where, layers);
        }

        @Override
        public float[] nextTokenLogProbs(int[] tokens, SequenceWindow where) {
            return decoder().nextTokenLogProbs(tokens, where);
        }

        @Override
        public void close() {
            synchronized (OPEN) {
                if (shared == null) {
                    return;
                }
                Shared s = shared;
                shared = null;
                if (--s.users == 0) {
                    OPEN.remove(s.key);
                    s.decoder.close();
                }
            }
        }
    }
}
