package io.longnet.gpu;

import static io.longnet.gpu.CudaException.check;

import java.io.IOException;
import java.io.InputStream;
import java.util.HashMap;
import java.util.Map;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.JCudaDriver;

/**
 * One GPU: its primary context (which cuBLAS, through JavaCPP, shares: docs/ARCHITECTURE.md §5) and the
 * kernel modules loaded into it (cuModuleLoadData of the embedded fatbins: dilated attention, then the
 * model's kernels). Created once per device per JVM by {@link CudaDevices}; any thread may use it after
 * {@link #makeCurrent()}.
 */
public final class CudaDevice implements AutoCloseable {

    static final String MODULE = "dilated_attention.fatbin";
    static final String MODEL_MODULE = "model_kernels.fatbin";

    private final int ordinal;
    private final CUdevice device = new CUdevice();
    private final CUcontext context = new CUcontext();
    private final CUmodule module = new CUmodule();
    private final CUmodule modelModule = new CUmodule();
    private final Map<String, CUfunction> functions = new HashMap<>();
    private final Map<String, KernelShape> shapes = new HashMap<>();
    private final String name;
    private final DeviceMemoryBudget memory;

    CudaDevice(int ordinal) {
        this.ordinal = ordinal;
        check(JCudaDriver.cuDeviceGet(device, ordinal), "cuDeviceGet(" + ordinal + ")");
        check(JCudaDriver.cuDevicePrimaryCtxRetain(context, device), "cuDevicePrimaryCtxRetain");
        makeCurrent();
        check(JCudaDriver.cuModuleLoadData(module, moduleImage()), "cuModuleLoadData(" + MODULE + ")");
        check(JCudaDriver.cuModuleLoadData(modelModule, moduleImage(MODEL_MODULE)),
                "cuModuleLoadData(" + MODEL_MODULE + ")");
        byte[] raw = new byte[256];
        check(JCudaDriver.cuDeviceGetName(raw, raw.length, device), "cuDeviceGetName");
        String s = new String(raw, java.nio.charset.StandardCharsets.US_ASCII);
        this.name = s.substring(0, Math.max(0, s.indexOf(0) < 0 ? s.length() : s.indexOf(0)));
        long[] free = new long[1];
        long[] total = new long[1];
        check(JCudaDriver.cuMemGetInfo(free, total), "cuMemGetInfo");
        this.memory = DeviceMemoryBudget.of(ordinal, free[0]);
    }

    /** What this process's tasks may hold of the device's memory at once. */
    public DeviceMemoryBudget memory() {
        return memory;
    }

    static byte[] moduleImage() {
        return moduleImage(MODULE);
    }

    static byte[] moduleImage(String name) {
        try (InputStream in = CudaDevice.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("kernel module " + name + " missing from the gpu-native jar");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new IllegalStateException("cannot read kernel module " + name, e);
        }
    }

    public int ordinal() {
        return ordinal;
    }

    public String name() {
        return name;
    }

    /** Binds this device's context to the calling thread. */
    public void makeCurrent() {
        check(JCudaDriver.cuCtxSetCurrent(context), "cuCtxSetCurrent");
    }

    /** Attention kernel {@code kernel}'s launch shape, read once from the module ({@link KernelShape#symbol}). */
    synchronized KernelShape shape(String kernel) {
        return shapes.computeIfAbsent(kernel, k -> {
            makeCurrent();
            CUdeviceptr at = new CUdeviceptr();
            long[] bytes = new long[1];
            check(JCudaDriver.cuModuleGetGlobal(at, bytes, module, KernelShape.symbol(k)),
                    "cuModuleGetGlobal(" + KernelShape.symbol(k) + ")");
            int[] shape = new int[3];
            if (bytes[0] != 4L * shape.length) {
                throw new IllegalStateException(KernelShape.symbol(k) + " holds " + bytes[0] + " bytes, expected 12");
            }
            check(JCudaDriver.cuMemcpyDtoH(Pointer.to(shape), at, bytes[0]), "cuMemcpyDtoH(" + KernelShape.symbol(k) + ")");
            return new KernelShape(shape[0], shape[1], shape[2]);
        });
    }

    /** The kernel {@code kernel}, allowed {@code sharedBytes} of dynamic shared memory (above 48 KB: opt-in). */
    synchronized CUfunction function(String kernel, int sharedBytes) {
        return functions.computeIfAbsent(kernel, k -> {
            CUfunction f = new CUfunction();
            int found = JCudaDriver.cuModuleGetFunction(f, module, k);
            if (found == jcuda.driver.CUresult.CUDA_ERROR_NOT_FOUND) {
                found = JCudaDriver.cuModuleGetFunction(f, modelModule, k);
            }
            check(found, "cuModuleGetFunction(" + k + ")");
            if (sharedBytes > 0) {
                check(JCudaDriver.cuFuncSetAttribute(f,
                        jcuda.driver.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, sharedBytes),
                        "cuFuncSetAttribute(" + k + ", max dynamic shared " + sharedBytes + ")");
            }
            return f;
        });
    }

    @Override
    public synchronized void close() {
        makeCurrent();
        check(JCudaDriver.cuModuleUnload(modelModule), "cuModuleUnload(" + MODEL_MODULE + ")");
        check(JCudaDriver.cuModuleUnload(module), "cuModuleUnload");
        check(JCudaDriver.cuDevicePrimaryCtxRelease(device), "cuDevicePrimaryCtxRelease");
    }
}
