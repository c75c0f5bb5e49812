package io.longnet.gpu;

import static io.longnet.gpu.CudaException.check;

import java.util.ArrayList;
import java.util.List;
import jcuda.driver.CUevent;
import jcuda.driver.JCudaDriver;

/**
 * Where a decoder call's time goes: an event on the default stream at every lap, the time since the
 * previous lap charged to the phase named (device time, plus host time while the device waits, so that
 * the phases add up to the call). For benchmarks; a decoder without one records nothing.
 */
final class PhaseTimer implements AutoCloseable {

    enum Phase {
        /** Checks, allocation, tokens in, results out, frees. */
        HOST,
        /** The layers' products (cuBLAS). */
        GEMM,
        /** The dilated-attention kernels. */
        ATTENTION,
        /** LayerNorms (and the bf16 conversion of the attention output where there is no sub-LN). */
        LAYER_NORM,
        /** The projection's bias and xPos into the attention inputs. */
        XPOS,
        /** The first feed-forward product's bias and GELU. */
        GELU,
        /** The bias adds into the residual stream, and the embedding gather. */
        BIAS,
        /** The LM head's products (cuBLAS). */
        LM_GEMM,
        /** The LM head's running log-sum-exp. */
        LM_LSE
    }

    private final List<CUevent> events = new ArrayList<>();
    private final List<Phase> phases = new ArrayList<>();

    PhaseTimer() {
        events.add(record());
    }

    /** Charges the time since the previous lap to {@code phase}. */
    void lap(Phase phase) {
        events.add(record());
        phases.add(phase);
    }

    /** Milliseconds per phase, in {@link Phase} order (waits for the device). */
    double[] millis() {
        double[] ms = new double[Phase.values().length];
        check(JCudaDriver.cuEventSynchronize(events.get(events.size() - 1)), "cuEventSynchronize (phases)");
        float[] t = new float[1];
        for (int i = 0; i < phases.size(); i++) {
            check(JCudaDriver.cuEventElapsedTime(t, events.get(i), events.get(i + 1)), "cuEventElapsedTime");
            ms[phases.get(i).ordinal()] += t[0];
        }
        return ms;
    }

    private static CUevent record() {
        CUevent e = new CUevent();
        check(JCudaDriver.cuEventCreate(e, 0), "cuEventCreate");
        check(JCudaDriver.cuEventRecord(e, null), "cuEventRecord");
        return e;
    }

    @Override
    public void close() {
        for (CUevent e : events) {
            JCudaDriver.cuEventDestroy(e);
        }
        events.clear();
    }
}
