package io.longnet.gpu;

import java.util.HashMap;
import java.util.Map;
import jcuda.driver.JCudaDriver;

/**
 * The per-JVM pool of GPUs: one context and module per device, created on first use and reused by every
 * task of an executor; closed at JVM exit (or explicitly). The project's one piece of static state.
 */
public final class CudaDevices implements AutoCloseable {

    private static final CudaDevices POOL = new CudaDevices();

    private final Map<Integer, CudaDevice> devices = new HashMap<>();
    private String unavailable;
    private boolean probed;
    private int count;

    private CudaDevices() {
        Runtime.getRuntime().addShutdownHook(new Thread(this::close, "longnet-cuda-close"));
    }

    public static CudaDevices pool() {
        return POOL;
    }

    /**
     * Why no GPU can be used here, or null when at least one can. Probed once: without libcuda the first
     * JCuda call fails with UnsatisfiedLinkError and later ones with NoClassDefFoundError.
     */
    public synchronized String unavailableReason() {
        if (!probed) {
            probed = true;
            try {
                JCudaDriver.setExceptionsEnabled(false);
                int init = JCudaDriver.cuInit(0);
                int[] n = new int[1];
                if (init != 0) {
                    unavailable = "CUDA driver not usable (cuInit: " + jcuda.driver.CUresult.stringFor(init) + ")";
                } else if (JCudaDriver.cuDeviceGetCount(n) != 0 || n[0] == 0) {
                    unavailable = "no CUDA device";
                } else {
                    count = n[0];
                }
            } catch (LinkageError e) {
                unavailable = "no CUDA driver (libcuda.so.1) on this machine";
            }
        }
        return unavailable;
    }

    public synchronized int count() {
        return unavailableReason() == null ? count : 0;
    }

    /** The device {@code ordinal}, opened on first use. */
    public synchronized CudaDevice device(int ordinal) {
        String reason = unavailableReason();
        if (reason != null) {
            throw new IllegalStateException("GPU " + ordinal + " requested but " + reason);
        }
        if (ordinal < 0 || ordinal >= count) {
            throw new IllegalArgumentException("GPU " + ordinal + " does not exist (" + count + " device(s))");
        }
        return devices.computeIfAbsent(ordinal, CudaDevice::new);
    }

    @Override
    public synchronized void close() {
        for (CudaDevice d : devices.values()) {
            try {
                d.close();
            } catch (RuntimeException e) {
                // Exiting anyway: the driver reclaims what is left.
            }
        }
        devices.clear();
    }
}
