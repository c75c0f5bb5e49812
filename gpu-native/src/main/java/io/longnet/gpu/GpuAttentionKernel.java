package io.longnet.gpu;

import static io.longnet.gpu.CudaException.check;

import io.longnet.attention.AttentionInputs;
import io.longnet.attention.AttentionKernel;
import io.longnet.attention.Branch;
import io.longnet.attention.CounterQkv;
import io.longnet.attention.DilatedAttentionConfig;
import io.longnet.attention.DilatedSelection;
import io.longnet.attention.GatheredBranch;
import io.longnet.attention.HalfFloat;
import io.longnet.attention.HeadOffset;
import io.longnet.attention.NonFiniteInputException;
import io.longnet.attention.NonFiniteValue;
import io.longnet.attention.OutputChecksum;
import io.longnet.attention.SyntheticOutput;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import jcuda.Pointer;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;
import jcuda.driver.JCudaDriver;

/**
 * Dilated attention on one GPU through the kernels of dilated_fwd_launch.cu. The sequence streams through
 * the device in chunks whose length is a multiple of every segment length in play (so chunks are
 * independent) and fits the device: two slots, each with its own stream, pinned host staging and device
 * buffers, so that one chunk's copies overlap the other's kernels. On the device q, k, v become bf16 for
 * the tensor-core kernel (or stay fp32), o and lse start at 0 and -inf, and each branch's launch merges its
 * result into them by lse.
 */
public final class GpuAttentionKernel implements AttentionKernel {

    private static final int NEG_INF_BITS = Float.floatToRawIntBits(Float.NEGATIVE_INFINITY);
    /** Share of the device's memory budget the two slots of one call may take. */
    private static final double MEMORY_SHARE = 0.6;

    private static final int TO_DEVICE = 0;
    private static final int COMPUTE = 1;
    private static final int FROM_DEVICE = 2;

    private final CudaDevice device;
    private final Precision precision;
    private final int chunkLimit;
    /** Time by phase of {@link #PHASES} in the calls on 16-bit inputs (the others do not tell them apart). */
    private final long[] phaseNanos = new long[3];

    /** A kernel sizing its chunks from the free device memory. */
    public GpuAttentionKernel(int ordinal, Precision precision) {
        this(ordinal, precision, 0);
    }

    /** A kernel streaming chunks of at most {@code chunkLimit} positions (0: from free device memory). */
    public GpuAttentionKernel(int ordinal, Precision precision, int chunkLimit) {
        if (chunkLimit < 0) {
            throw new IllegalArgumentException("chunk limit must be >= 0 (got " + chunkLimit + ")");
        }
        this.device = CudaDevices.pool().device(ordinal);
        this.precision = precision;
        this.chunkLimit = chunkLimit;
    }

    @Override
    public String name() {
        return "gpu:" + device.ordinal() + " (" + device.name() + ", " + precision.name().toLowerCase() + ")";
    }

    @Override
    public void forward(DilatedAttentionConfig config, List<Branch> branches, FloatBuffer q, FloatBuffer k,
                        FloatBuffer v, int n, FloatBuffer o, FloatBuffer lse) {
        AttentionInputs.requireBranches(config, branches);
        AttentionInputs.requireForward(config, n, q, k, v, o, lse);
        LaunchGeometry.requireHeadWidth(config.headDim());
        device.makeCurrent();
        int chunk = chunkLength(config, branches, n, 2 * Slot.deviceBytesPerPosition(config, precision));
        int width = config.rowWidth();
        int heads = config.heads();
        FloatBuffer[] in = {q.slice(), k.slice(), v.slice()};
        FloatBuffer os = o.slice();
        FloatBuffer ls = lse.slice();
        int chunks = (n + chunk - 1) / chunk;
        if (chunks == 1) {
            // One chunk: nothing to overlap, so no pinned staging (pinning gigabytes costs more than copying
            // them): straight from the caller's buffers to the device and back.
            long elems = (long) n * width;
            try (DeviceMemoryBudget.Reservation held = device.memory().reserve(
                    n * Slot.deviceBytesPerPosition(config, precision), "attention over " + n + " positions");
                 DeviceBuffer dq = toDevice(in[0], elems);
                 DeviceBuffer dk = toDevice(in[1], elems);
                 DeviceBuffer dv = toDevice(in[2], elems);
                 DeviceBuffer dO = new DeviceBuffer(elems * 4);
                 DeviceBuffer dL = new DeviceBuffer((long) n * heads * 4)) {
                launchBranches(config, branches, n, dq, dk, dv, dO, dL, null);
                dO.download(os);
                dL.download(ls);
            }
            return;
        }
        // A second slot only when there is a second chunk: one chunk needs no overlap, nor twice the memory.
        // Both slots are reserved at once: tasks holding one slot each and waiting for a second would deadlock.
        int slotCount = chunks > 1 ? 2 : 1;
        try (DeviceMemoryBudget.Reservation held = device.memory().reserve(
                slotCount * (long) chunk * Slot.deviceBytesPerPosition(config, precision),
                "attention over " + slotCount + " chunk(s) of " + chunk + " positions");
             Slot a = new Slot(chunk, config); Slot b = chunks > 1 ? new Slot(chunk, config) : null) {
            Slot[] slots = {a, b};
            for (int c = 0; c < chunks; c++) {
                Slot slot = slots[c % 2];
                slot.finish(os, ls, width, heads);  // the chunk this slot held two steps ago
                int start = c * chunk;
                int len = Math.min(chunk, n - start);
                slot.start(config, branches, in, start, len);
            }
            for (Slot slot : slots) {
                if (slot != null) {
                    slot.finish(os, ls, width, heads);
                }
            }
        }
    }

    /**
     * The 16-bit inputs go to the device as they are and are widened there (checked for infinities and NaN on
     * the way), so that no float copy of them exists on the host: a partition read from a file's mapped rows
     * reaches the kernel with one copy. Chunks run one after the other; a partition sized for the device is
     * one chunk.
     */
    @Override
    public NonFiniteValue forward(DilatedAttentionConfig config, List<Branch> branches, HalfFloat format,
                                  ShortBuffer q, ShortBuffer k, ShortBuffer v, int n, FloatBuffer o, FloatBuffer lse) {
        AttentionInputs.requireBranches(config, branches);
        AttentionInputs.requireForward(config, n, q, k, v, o, lse);
        LaunchGeometry.requireHeadWidth(config.headDim());
        device.makeCurrent();
        int width = config.rowWidth();
        int heads = config.heads();
        long perPosition = width * (3L * 2 + (precision == Precision.FP32 ? 3L * 4 : 0) + 4) + 4L * heads;
        int chunk = chunkLength(config, branches, n, perPosition);
        ShortBuffer[] in = {q.slice(), k.slice(), v.slice()};
        FloatBuffer os = o.slice();
        FloatBuffer ls = lse.slice();
        long elemsAll = (long) n * width;
        long badO = -1;   // the first result float32 could not hold, as an element of o or lse; -1: none
        long badLse = -1;
        long t = System.nanoTime();
        // Pinned for the call, so that the copies are DMA on a stream of the call's own: concurrent tasks'
        // copies and kernels overlap instead of queueing on the default stream. The inputs are pinned
        // read-only (they may be a read-only mapping of a file).
        try (NativeResources call = new NativeResources()) {
            CUstream stream = new CUstream();
            check(JCudaDriver.cuStreamCreate(stream, CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate");
            call.add(() -> check(JCudaDriver.cuStreamDestroy(stream), "cuStreamDestroy"));
            for (ShortBuffer b : in) {
                call.addIfPresent(HostRegistration.of(b, elemsAll * 2, true));
            }
            call.addIfPresent(HostRegistration.of(os, elemsAll * 4, false));
            call.addIfPresent(HostRegistration.of(ls, (long) n * heads * 4, false));
            // Released first: nothing still queued may touch the host memory once it is unpinned (a failure
            // here is the call's, already reported).
            call.add(() -> JCudaDriver.cuStreamSynchronize(stream));
            t = lap(TO_DEVICE, t);
            for (int start = 0; start < n; start += chunk) {
                int len = Math.min(chunk, n - start);
                long elems = (long) len * width;
                try (DeviceMemoryBudget.Reservation held = device.memory().reserve(len * perPosition,
                        "attention over " + len + " positions");
                     NativeResources buffers = new NativeResources()) {
                    DeviceBuffer firstBad = buffers.add(new DeviceBuffer(3L * Long.BYTES));
                    firstBad.fill32(-1, stream); // no bad element: the largest index
                    DeviceBuffer[] raw = new DeviceBuffer[3];
                    for (int i = 0; i < 3; i++) {
                        raw[i] = buffers.add(new DeviceBuffer(elems * 2));
                        raw[i].uploadAsync(in[i].slice(start * width, len * width), stream);
                    }
                    sync(stream, "copies to the device");
                    t = lap(TO_DEVICE, t);
                    DeviceBuffer[] wide = new DeviceBuffer[3];
                    for (int i = 0; i < 3; i++) {
                        // bf16 replaces the 16 bits it came from: each element is read before it is written.
                        wide[i] = precision == Precision.BF16 ? raw[i] : buffers.add(new DeviceBuffer(elems * 4));
                        widen(format, raw[i], wide[i], elems, firstBad, i, stream);
                    }
                    long[] bad = new long[3];
                    firstBad.downloadAsync(LongBuffer.wrap(bad), stream);
                    for (int i = 0; i < 3; i++) {
                        if (bad[i] != -1) {
                            int at = (int) (start * (long) width + bad[i]);
                            throw new NonFiniteInputException(AttentionInputs.QKV.get(i), at,
                                    format.toFloat(in[i].get(at)));
                        }
                    }
                    DeviceBuffer dO = buffers.add(new DeviceBuffer(elems * 4));
                    DeviceBuffer dL = buffers.add(new DeviceBuffer((long) len * heads * 4));
                    launchBranches(config, branches, len, wide[0], wide[1], wide[2], dO, dL, stream);
                    DeviceBuffer firstResult = buffers.add(new DeviceBuffer(2L * Long.BYTES));
                    firstResult.fill32(-1, stream);
                    firstNonFinite(dO, elems, false, firstResult, 0, stream);
                    firstNonFinite(dL, (long) len * heads, true, firstResult, 1, stream);
                    long[] result = new long[2];
                    firstResult.downloadAsync(LongBuffer.wrap(result), stream);
                    if (badO < 0 && result[0] != -1) {
                        badO = start * (long) width + result[0];
                    }
                    if (badLse < 0 && result[1] != -1) {
                        badLse = start * (long) heads + result[1];
                    }
                    t = lap(COMPUTE, t);
                    dO.downloadAsync(os.slice(start * width, len * width), stream);
                    dL.downloadAsync(ls.slice(start * heads, len * heads), stream);
                    sync(stream, "copies from the device");
                    t = lap(FROM_DEVICE, t);
                }
            }
        } finally {
            lap(FROM_DEVICE, t);
        }
        if (badO >= 0) {
            return new NonFiniteValue("o", badO, os.get((int) badO));
        }
        return badLse < 0 ? null : new NonFiniteValue("lse", badLse, ls.get((int) badLse));
    }

    /** Queues the search for the first result float32 could not hold into long {@code slot} of {@code first}. */
    private void firstNonFinite(DeviceBuffer x, long count, boolean allowNegativeInfinity, DeviceBuffer first,
                                int slot, CUstream stream) {
        elementwise("first_non_finite_f32", count, stream, Pointer.to(x.pointer()), Pointer.to(new long[] {count}),
                Pointer.to(new int[] {allowNegativeInfinity ? 1 : 0}),
                Pointer.to(first.pointer().withByteOffset((long) slot * Long.BYTES)));
    }

    private static void sync(CUstream stream, String what) {
        check(JCudaDriver.cuStreamSynchronize(stream), "cuStreamSynchronize (" + what + ")");
    }

    @Override
    public Map<String, Long> phaseNanos() {
        Map<String, Long> out = new LinkedHashMap<>();
        for (int i = 0; i < PHASES.size(); i++) {
            out.put(PHASES.get(i), phaseNanos[i]);
        }
        return out;
    }

    /** Adds the time since {@code t} to phase number {@code phase} of {@link #PHASES}; returns now. */
    private long lap(int phase, long t) {
        long now = System.nanoTime();
        phaseNanos[phase] += now - t;
        return now;
    }

    /**
     * Positions per chunk: a multiple of every segment length in {@code branches} (segments never cross
     * chunks), within the limit or the memory share given {@code bytesPerPosition} of device memory in
     * flight per position; the whole sequence when no such multiple fits.
     */
    private int chunkLength(DilatedAttentionConfig config, List<Branch> branches, int n, long bytesPerPosition) {
        long lcm = 1;
        for (Branch b : branches) {
            lcm = lcm / gcd(lcm, b.segmentLength()) * b.segmentLength();
            if (lcm >= n) {
                return n;
            }
        }
        long limit = chunkLimit;
        if (limit == 0) {
            // A share of the device's budget, not of what is free now: tasks that start together all see the
            // device empty; the budget then makes them take turns.
            limit = (long) (device.memory().capacity() * MEMORY_SHARE / bytesPerPosition);
        }
        long chunk = Math.max(lcm, limit / lcm * lcm);
        return (int) Math.min(n, chunk);
    }

    private static long gcd(long a, long b) {
        return b == 0 ? a : gcd(b, a % b);
    }

    /** One chunk in flight: pinned staging, device buffers and a stream of its own. */
    private final class Slot implements AutoCloseable {
        private final CUstream stream = new CUstream();
        /** The stream (first) and every buffer, released in reverse order. */
        private final NativeResources resources = new NativeResources();
        private final PinnedBuffer[] hostIn = new PinnedBuffer[3];
        private final DeviceBuffer[] deviceF32 = new DeviceBuffer[3];
        private final DeviceBuffer[] deviceIn = new DeviceBuffer[3];
        private final PinnedBuffer hostO;
        private final PinnedBuffer hostLse;
        private final DeviceBuffer deviceO;
        private final DeviceBuffer deviceLse;
        private int pendingStart = -1;
        private int pendingLength;

        static long deviceBytesPerPosition(DilatedAttentionConfig c, Precision p) {
            long width = c.rowWidth();
            return width * (3L * 4 + (p == Precision.BF16 ? 3L * 2 : 0) + 4) + 4L * c.heads();
        }

        /** Acquires the stream and buffers; when one acquisition fails, releases those before it. */
        Slot(int chunk, DilatedAttentionConfig c) {
            long elems = (long) chunk * c.rowWidth();
            try {
                check(JCudaDriver.cuStreamCreate(stream, CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate");
                resources.add(() -> check(JCudaDriver.cuStreamDestroy(stream), "cuStreamDestroy"));
                for (int t = 0; t < 3; t++) {
                    hostIn[t] = resources.add(new PinnedBuffer(elems * 4));
                    deviceF32[t] = resources.add(new DeviceBuffer(elems * 4));
                    deviceIn[t] = precision == Precision.BF16 ? resources.add(new DeviceBuffer(elems * 2))
                            : deviceF32[t];
                }
                hostO = resources.add(new PinnedBuffer(elems * 4));
                hostLse = resources.add(new PinnedBuffer((long) chunk * c.heads() * 4));
                deviceO = resources.add(new DeviceBuffer(elems * 4));
                deviceLse = resources.add(new DeviceBuffer((long) chunk * c.heads() * 4));
            } catch (RuntimeException | Error e) {
                resources.closeAfter(e);
                throw e;
            }
        }

        /** Stages positions [start, start + len) and queues their copies, kernels and copy back. */
        void start(DilatedAttentionConfig c, List<Branch> branches, FloatBuffer[] in, int start, int len) {
            int width = c.rowWidth();
            long elems = (long) len * width;
            for (int t = 0; t < 3; t++) {
                hostIn[t].floats().put(0, in[t], start * width, len * width);
                deviceF32[t].uploadAsync(hostIn[t], elems * 4, stream);
                if (precision == Precision.BF16) {
                    toBf16(deviceF32[t], deviceIn[t], elems, stream);
                }
            }
            launchBranches(c, branches, len, deviceIn[0], deviceIn[1], deviceIn[2], deviceO, deviceLse, stream);
            deviceO.downloadAsync(hostO, elems * 4, stream);
            deviceLse.downloadAsync(hostLse, (long) len * c.heads() * 4, stream);
            pendingStart = start;
            pendingLength = len;
        }

        /** Waits for the chunk in flight, if any, and copies its o and lse out. */
        void finish(FloatBuffer o, FloatBuffer lse, int width, int heads) {
            if (pendingStart < 0) {
                return;
            }
            check(JCudaDriver.cuStreamSynchronize(stream), "cuStreamSynchronize (dilated attention chunk)");
            o.put(pendingStart * width, hostO.floats(), 0, pendingLength * width);
            lse.put(pendingStart * heads, hostLse.floats(), 0, pendingLength * heads);
            pendingStart = -1;
        }

        @Override
        public void close() {
            // Queued copies and kernels still use the buffers: wait for them (a failure here is the
            // chunk's, already reported by finish), then free the buffers and destroy the stream.
            JCudaDriver.cuStreamSynchronize(stream);
            resources.close();
        }
    }

    @Override
    public void attendGathered(DilatedAttentionConfig config, Branch branch, int offsetInSegment, FloatBuffer q,
                               int n, List<FloatBuffer> keys, List<FloatBuffer> values, FloatBuffer o,
                               FloatBuffer lse) {
        AttentionInputs.requireGathered(config, branch, offsetInSegment, n, q, keys, values, o, lse);
        LaunchGeometry.requireHeadWidth(config.headDim());
        long elems = (long) n * config.rowWidth();
        device.makeCurrent();
        try (DeviceBuffer dq = toDevice(q, elems);
             DeviceBuffer dO = new DeviceBuffer(elems * 4);
             DeviceBuffer dL = new DeviceBuffer((long) n * config.heads() * 4)) {
            dO.upload(o);
            dL.upload(lse);
            launchGathered(config, new GatheredBranch(branch, offsetInSegment, keys, values), n, dq, dO, dL);
            dO.download(o);
            dL.download(lse);
        }
    }

    /**
     * Merges into device-resident {@code o}, {@code lse} one spanning branch's attention of the {@code n} queries
     * of device-resident {@code q} (this kernel's precision) to its gathered keys and values, uploaded here; waits
     * for it.
     */
    private void launchGathered(DilatedAttentionConfig config, GatheredBranch g, int n, DeviceBuffer q, DeviceBuffer o,
                                DeviceBuffer lse) {
        int heads = config.heads();
        int d = config.headDim();
        Branch branch = g.branch();
        int[] rows = new int[heads];
        int maxKeys = 0;
        int maxQueries = 0;
        for (int h = 0; h < heads; h++) {
            rows[h] = g.keys().get(h).remaining() / d;
            maxKeys = Math.max(maxKeys, rows[h]);
            maxQueries = Math.max(maxQueries, DilatedSelection.of(g.offsetInSegment(), n, config.offset(branch, h),
                    branch.dilation()).count());
        }
        // Heads' compact rows side by side, each padded to the longest (pads are never read).
        FloatBuffer packedK = FloatBuffer.allocate(Math.max(1, heads * maxKeys * d));
        FloatBuffer packedV = FloatBuffer.allocate(Math.max(1, heads * maxKeys * d));
        for (int h = 0; h < heads; h++) {
            packedK.put(h * maxKeys * d, g.keys().get(h).slice(), 0, rows[h] * d);
            packedV.put(h * maxKeys * d, g.values().get(h).slice(), 0, rows[h] * d);
        }
        try (DeviceBuffer dk = toDevice(packedK, packedK.capacity());
             DeviceBuffer dv = toDevice(packedV, packedV.capacity());
             DeviceBuffer dRows = new DeviceBuffer((long) heads * 4)) {
            dRows.upload(rows, 0);
            LaunchParams params = new LaunchParams()
                    .pointers(q.address(), dk.address(), dv.address(), o.address(), lse.address(), dRows.address())
                    .shape(n, heads, branch.segmentLength(), branch.dilation(), offsetMode(config), config.causal())
                    .gathered(true, g.offsetInSegment(), maxKeys * d).first(false).headDim(d);
            String kernel = precision.kernelName(d);
            launch(LaunchGeometry.of(1, heads, maxQueries, device.shape(kernel)), kernel, params, null);
            check(JCudaDriver.cuCtxSynchronize(), "cuCtxSynchronize (gathered attention kernel)");
        }
    }

    /**
     * Synthetic inputs made and results reduced on the device (docs/ARCHITECTURE.md §4, synthetic inputs): q, k, v
     * generated in this kernel's precision by {@code counter_qkv_*} (the host's values; bf16 rounds those of more
     * than 8 bits), the branches and gathered branches attended there, o and lse reduced by {@code checksum_f32}
     * to the host's checksum of the same values; only the sampled rows and the two sums cross the bus.
     */
    @Override
    public SyntheticOutput attendSynthetic(DilatedAttentionConfig config, List<Branch> branches, CounterQkv inputs,
                                           long start, int n, List<GatheredBranch> gathered, int[] sampleRows) {
        AttentionInputs.requireBranches(config, branches);
        long elems = AttentionInputs.elements(config, n);
        SyntheticOutput.requireRows(sampleRows, n);
        CounterQkv.requireFits(config, start + n);
        LaunchGeometry.requireHeadWidth(config.headDim());
        device.makeCurrent();
        int heads = config.heads();
        int width = config.rowWidth();
        long inBytes = precision == Precision.BF16 ? 2 : 4;
        try (DeviceMemoryBudget.Reservation held = device.memory().reserve(elems * (3 * inBytes + 4) + 4L * n * heads,
                "synthetic attention over " + n + " positions");
             NativeResources buffers = new NativeResources()) {
            DeviceBuffer[] qkv = new DeviceBuffer[3];
            for (int t = 0; t < 3; t++) {
                qkv[t] = buffers.add(new DeviceBuffer(elems * inBytes));
                generate(inputs, t, start, n, config, qkv[t]);
            }
            DeviceBuffer o = buffers.add(new DeviceBuffer(elems * 4));
            DeviceBuffer lse = buffers.add(new DeviceBuffer((long) n * heads * 4));
            launchBranches(config, branches, n, qkv[0], qkv[1], qkv[2], o, lse, null);
            for (GatheredBranch g : gathered) {
                launchGathered(config, g, n, qkv[0], o, lse);
            }
            DeviceBuffer sums = buffers.add(new DeviceBuffer(2L * Long.BYTES));
            sums.fill32(0, null);
            checksum(o, elems, sums, 0);
            checksum(lse, (long) n * heads, sums, 1);
            check(JCudaDriver.cuCtxSynchronize(), "cuCtxSynchronize (synthetic attention)");
            long[] sum = new long[2];
            sums.download(LongBuffer.wrap(sum));
            float[] sampleO = new float[sampleRows.length * width];
            float[] sampleLse = new float[sampleRows.length * heads];
            for (int i = 0; i < sampleRows.length; i++) {
                o.download(FloatBuffer.wrap(sampleO, i * width, width).slice(), 4L * sampleRows[i] * width, 4L * width);
                lse.download(FloatBuffer.wrap(sampleLse, i * heads, heads).slice(), 4L * sampleRows[i] * heads,
                        4L * heads);
            }
            return new SyntheticOutput(new OutputChecksum(sum[0], sum[1]), sampleO, sampleLse);
        }
    }

    /** Queues tensor {@code tensor} of positions {@code [start, start + n)} of {@code inputs} into {@code out}, this kernel's precision. */
    void generate(CounterQkv inputs, int tensor, long start, int n, DilatedAttentionConfig config, DeviceBuffer out) {
        long elems = (long) n * config.rowWidth();
        elementwise(precision == Precision.BF16 ? "counter_qkv_bf16" : "counter_qkv_f32", elems, null,
                Pointer.to(out.pointer()), Pointer.to(new long[] {start}), Pointer.to(new long[] {n}),
                Pointer.to(new int[] {config.heads()}), Pointer.to(new int[] {config.headDim()}),
                Pointer.to(new int[] {tensor}), Pointer.to(new long[] {inputs.seed()}),
                Pointer.to(new int[] {inputs.bits()}));
    }

    /** Queues the addition of the checksum terms of {@code count} floats of {@code x} into long {@code slot} of {@code sums}. */
    void checksum(DeviceBuffer x, long count, DeviceBuffer sums, int slot) {
        elementwise("checksum_f32", count, null, Pointer.to(x.pointer()), Pointer.to(new long[] {count}),
                Pointer.to(sums.pointer().withByteOffset((long) slot * Long.BYTES)));
    }

    /**
     * Queues, on device-resident inputs (in this kernel's precision), the initialisation of o and lse and
     * one launch per branch, on {@code stream} (null: the default stream); does not wait.
     */
    void launchBranches(DilatedAttentionConfig config, List<Branch> branches, int n, DeviceBuffer q, DeviceBuffer k,
                        DeviceBuffer v, DeviceBuffer o, DeviceBuffer lse, CUstream stream) {
        int heads = config.heads();
        int d = config.headDim();
        // The first launch writes its rows' o and lse without reading them; at dilation 1 those are all the
        // rows, so clearing them first would be overwritten traffic (3.2 GB, 0.7 ms, for config A at 1M).
        if (branches.isEmpty() || branches.get(0).dilation() != 1) {
            o.fill32(0, stream);
            lse.fill32(NEG_INF_BITS, stream);
        }
        boolean first = true;
        for (Branch b : branches) {
            LaunchParams params = new LaunchParams()
                    .pointers(q.address(), k.address(), v.address(), o.address(), lse.address(), 0)
                    .shape(n, heads, b.segmentLength(), b.dilation(), offsetMode(config), config.causal())
                    .gathered(false, 0, 0).first(first).headDim(d);
            String kernel = precision.kernelName(d);
            launch(LaunchGeometry.local(b, n, heads, device.shape(kernel)), kernel, params, stream);
            first = false;
        }
    }

    CudaDevice device() {
        return device;
    }

    private static int offsetMode(DilatedAttentionConfig config) {
        return config.headOffset() == HeadOffset.PAPER ? 0 : 1;
    }

    private void launch(LaunchGeometry g, String kernel, LaunchParams params, CUstream stream) {
        check(JCudaDriver.cuLaunchKernel(device.function(kernel, g.sharedBytes()), g.gridX(), g.gridY(), g.gridZ(),
                g.threads(), 1, 1, g.sharedBytes(), stream, Pointer.to(Pointer.to(params.toBytes())), null),
                "cuLaunchKernel(" + kernel + ")");
    }

    /**
     * 16-bit {@code raw} widened into {@code wide} in this kernel's precision on {@code stream}; the index of
     * the first infinite or NaN value goes to long number {@code slot} of {@code firstBad} (left as it was when
     * there is none).
     */
    private void widen(HalfFloat format, DeviceBuffer raw, DeviceBuffer wide, long elems, DeviceBuffer firstBad,
                       int slot, CUstream stream) {
        elementwise(precision == Precision.BF16 ? "half_to_bf16" : "half_to_f32", elems, stream,
                Pointer.to(raw.pointer()), Pointer.to(wide.pointer()), Pointer.to(new long[] {elems}),
                Pointer.to(new int[] {format == HalfFloat.F16 ? 1 : 0}),
                Pointer.to(firstBad.pointer().withByteOffset((long) slot * Long.BYTES)));
    }

    /** fp32 on the device converted to bf16 on {@code stream}. */
    private void toBf16(DeviceBuffer f32, DeviceBuffer bf16, long elems, CUstream stream) {
        elementwise("f32_to_bf16", elems, stream, Pointer.to(f32.pointer()), Pointer.to(bf16.pointer()),
                Pointer.to(new long[] {elems}));
    }

    /**
     * Launches one of dilated_fwd_launch.cu's elementwise kernels over {@code elems} elements on {@code stream}:
     * blocks of 256 threads, at most 65,535 of them (the kernels stride over the rest).
     */
    private void elementwise(String kernel, long elems, CUstream stream, Pointer... args) {
        int blocks = (int) Math.max(1, Math.min(65_535, (elems + 255) / 256));
        check(JCudaDriver.cuLaunchKernel(device.function(kernel, 0), blocks, 1, 1, 256, 1, 1, 0, stream,
                Pointer.to(args), null), "cuLaunchKernel(" + kernel + ")");
    }

    /** A host buffer on the device in this kernel's precision (synchronous, from pageable memory). */
    private DeviceBuffer toDevice(FloatBuffer host, long elems) {
        try (NativeResources held = new NativeResources()) {
            DeviceBuffer f32 = held.add(new DeviceBuffer(elems * 4));
            f32.upload(host);
            if (precision == Precision.FP32) {
                return held.disown(f32);
            }
            DeviceBuffer bf16 = held.add(new DeviceBuffer(elems * 2));
            toBf16(f32, bf16, elems, null);
            check(JCudaDriver.cuCtxSynchronize(), "cuCtxSynchronize (f32_to_bf16)");
            return held.disown(bf16);
        }
    }

    @Override
    public void close() {
        // The device's context and module belong to the per-JVM pool; buffers are freed per call.
    }
}
