package io.longnet.gpu;

import static io.longnet.gpu.CudaException.check;

import io.longnet.attention.AttentionKernel;
import io.longnet.attention.Branch;
import io.longnet.attention.DilatedAttentionConfig;
import io.longnet.attention.DilatedSelection;
import io.longnet.attention.HeadOffset;
import java.nio.FloatBuffer;
import java.util.List;
import jcuda.Pointer;
import jcuda.driver.JCudaDriver;

/**
 * Dilated attention on one GPU through the kernels of dilated_fwd_launch.cu: q, k, v go to the device
 * (as bf16 for the tensor-core kernel, or fp32), o and lse start at 0 and -inf, each branch's launch
 * merges its result into them by lse, and they come back. The branches run one after another on the
 * device; the host waits once.
 */
public final class GpuAttentionKernel implements AttentionKernel {

    private static final int NEG_INF_BITS = Float.floatToRawIntBits(Float.NEGATIVE_INFINITY);

    private final CudaDevice device;
    private final Precision precision;

    public GpuAttentionKernel(int ordinal, Precision precision) {
        this.device = CudaDevices.pool().device(ordinal);
        this.precision = precision;
    }

    @Override
    public String name() {
        return "gpu:" + device.ordinal() + " (" + device.name() + ", " + precision.name().toLowerCase() + ")";
    }

    @Override
    public void forward(DilatedAttentionConfig config, List<Branch> branches, FloatBuffer q, FloatBuffer k,
                        FloatBuffer v, int n, FloatBuffer o, FloatBuffer lse) {
        AttentionKernel.checkShapes(config, q, k, v, n, o, lse);
        AttentionKernel.checkBranches(config, branches);
        int heads = config.heads();
        int d = config.headDim();
        LaunchGeometry.requireHeadWidth(d);
        long elems = (long) n * heads * d;
        device.makeCurrent();
        try (Inputs in = new Inputs(q, k, v, elems);
             DeviceBuffer dO = new DeviceBuffer(elems * 4);
             DeviceBuffer dL = new DeviceBuffer((long) n * heads * 4)) {
            launchBranches(config, branches, n, in.q, in.k, in.v, dO, dL);
            check(JCudaDriver.cuCtxSynchronize(), "cuCtxSynchronize (dilated attention kernels)");
            dO.download(o);
            dL.download(lse);
        }
    }

    /**
     * Queues, on device-resident inputs (in this kernel's precision), the initialisation of o and lse and
     * one launch per branch; does not wait.
     */
    void launchBranches(DilatedAttentionConfig config, List<Branch> branches, int n, DeviceBuffer q, DeviceBuffer k,
                        DeviceBuffer v, DeviceBuffer o, DeviceBuffer lse) {
        int heads = config.heads();
        int d = config.headDim();
        o.fill32(0);
        lse.fill32(NEG_INF_BITS);
        boolean first = true;
        for (Branch b : branches) {
            LaunchParams params = new LaunchParams()
                    .pointers(q.address(), k.address(), v.address(), o.address(), lse.address(), 0)
                    .shape(n, heads, b.segmentLength(), b.dilation(), offsetMode(config), config.causal())
                    .gathered(false, 0, 0).first(first).headDim(d);
            launch(LaunchGeometry.local(b, n, heads, d, precision), precision.kernelName(d), params);
            first = false;
        }
    }

    CudaDevice device() {
        return device;
    }

    @Override
    public void attendGathered(DilatedAttentionConfig config, Branch branch, int offsetInSegment, FloatBuffer q,
                               int n, List<FloatBuffer> keys, List<FloatBuffer> values, FloatBuffer o,
                               FloatBuffer lse) {
        AttentionKernel.checkShapes(config, q, q, q, n, o, lse);
        AttentionKernel.checkBranches(config, List.of(branch));
        int heads = config.heads();
        int d = config.headDim();
        LaunchGeometry.requireHeadWidth(d);
        int[] rows = new int[heads];
        int maxKeys = 0;
        int maxQueries = 0;
        for (int h = 0; h < heads; h++) {
            rows[h] = keys.get(h).remaining() / d;
            maxKeys = Math.max(maxKeys, rows[h]);
            maxQueries = Math.max(maxQueries, DilatedSelection.of(offsetInSegment, n, config.offset(branch, h),
                    branch.dilation()).count());
        }
        // Heads' compact rows side by side, each padded to the longest (pads are never read).
        FloatBuffer packedK = FloatBuffer.allocate(Math.max(1, heads * maxKeys * d));
        FloatBuffer packedV = FloatBuffer.allocate(Math.max(1, heads * maxKeys * d));
        for (int h = 0; h < heads; h++) {
            packedK.put(h * maxKeys * d, keys.get(h).slice(), 0, rows[h] * d);
            packedV.put(h * maxKeys * d, values.get(h).slice(), 0, rows[h] * d);
        }
        long elems = (long) n * heads * d;
        device.makeCurrent();
        try (Inputs in = new Inputs(q, packedK, packedV, elems, (long) packedK.capacity());
             DeviceBuffer dO = new DeviceBuffer(elems * 4);
             DeviceBuffer dL = new DeviceBuffer((long) n * heads * 4);
             DeviceBuffer dRows = new DeviceBuffer((long) heads * 4)) {
            dO.upload(o);
            dL.upload(lse);
            dRows.upload(rows);
            LaunchParams params = new LaunchParams()
                    .pointers(in.q.address(), in.k.address(), in.v.address(), dO.address(), dL.address(),
                            dRows.address())
                    .shape(n, heads, branch.segmentLength(), branch.dilation(), offsetMode(config), config.causal())
                    .gathered(true, offsetInSegment, maxKeys * d).first(false).headDim(d);
            launch(LaunchGeometry.of(1, heads, maxQueries, d, precision), precision.kernelName(d), params);
            check(JCudaDriver.cuCtxSynchronize(), "cuCtxSynchronize (gathered attention kernel)");
            dO.download(o);
            dL.download(lse);
        }
    }

    private static int offsetMode(DilatedAttentionConfig config) {
        return config.headOffset() == HeadOffset.PAPER ? 0 : 1;
    }

    private void launch(LaunchGeometry g, String kernel, LaunchParams params) {
        check(JCudaDriver.cuLaunchKernel(device.function(kernel, g.sharedBytes()), g.gridX(), g.gridY(), g.gridZ(),
                g.threads(), 1, 1, g.sharedBytes(), null, Pointer.to(Pointer.to(params.toBytes())), null),
                "cuLaunchKernel(" + kernel + ")");
    }

    /** q, k, v on the device in the kernel's input precision. */
    private final class Inputs implements AutoCloseable {
        final DeviceBuffer q;
        final DeviceBuffer k;
        final DeviceBuffer v;

        Inputs(FloatBuffer hq, FloatBuffer hk, FloatBuffer hv, long elems) {
            this(hq, hk, hv, elems, elems);
        }

        Inputs(FloatBuffer hq, FloatBuffer hk, FloatBuffer hv, long qElems, long kvElems) {
            q = toDevice(hq, qElems);
            k = toDevice(hk, kvElems);
            v = toDevice(hv, kvElems);
        }

        private DeviceBuffer toDevice(FloatBuffer host, long elems) {
            try (DeviceBuffer f32 = new DeviceBuffer(elems * 4)) {
                f32.upload(host);
                if (precision == Precision.FP32) {
                    DeviceBuffer copy = new DeviceBuffer(elems * 4);
                    check(JCudaDriver.cuMemcpyDtoD(copy.pointer(), f32.pointer(), elems * 4), "cuMemcpyDtoD");
                    return copy;
                }
                DeviceBuffer bf16 = new DeviceBuffer(elems * 2);
                int blocks = (int) Math.min(65_535, (elems + 255) / 256);
                Pointer args = Pointer.to(Pointer.to(f32.pointer()), Pointer.to(bf16.pointer()),
                        Pointer.to(new long[] {elems}));
                check(JCudaDriver.cuLaunchKernel(device.function("f32_to_bf16", 0), Math.max(1, blocks), 1, 1, 256, 1, 1,
                        0, null, args, null), "cuLaunchKernel(f32_to_bf16)");
                check(JCudaDriver.cuCtxSynchronize(), "cuCtxSynchronize (f32_to_bf16)");
                return bf16;
            }
        }

        @Override
        public void close() {
            q.close();
            k.close();
            v.close();
        }
    }

    @Override
    public void close() {
        // The device's context and module belong to the per-JVM pool; buffers are freed per call.
    }
}
