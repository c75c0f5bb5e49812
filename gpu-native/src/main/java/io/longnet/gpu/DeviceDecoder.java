package io.longnet.gpu;

import static io.longnet.gpu.CudaException.check;

import io.longnet.attention.DilatedAttentionConfig;
import io.longnet.gpu.PhaseTimer.Phase;
import io.longnet.model.LongNetConfig;
import io.longnet.model.LongNetModel;
import io.longnet.model.ModelDecoder;
import io.longnet.model.ModelDecoders;
import io.longnet.model.ModelWeights;
import io.longnet.model.SequenceWindow;
import io.longnet.model.TensorNames;
import io.longnet.model.Xpos;
import java.nio.Buffer;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import jcuda.driver.JCudaDriver;

/**
 * The LongNet decoder resident on one GPU (docs/ARCHITECTURE.md §5): the weights
 * are uploaded once; for a sequence, the tokens go in, every layer runs on the device (LayerNorms, the
 * projections through cuBLAS, bias and xPos, the dilated-attention kernels, GELU, residuals) with the hidden
 * states kept there, and only the results come back: next-token log-probs (the tied LM head in row blocks
 * and vocabulary chunks with a running log-sum-exp, never the whole logit matrix), final features or the
 * hidden states after a layer. {@link Precision#FP32} computes in fp32 throughout (the CPU model's parity);
 * {@link Precision#BF16} feeds the products and attention bf16 with fp32 accumulation and keeps the
 * residual stream, LayerNorm statistics and softmax in fp32. One sequence at a time; calls are serialised.
 */
public final class DeviceDecoder implements ModelDecoder {

    /** Bytes of one LM-head logit block (rows x vocabulary chunk, fp32). */
    static final long LOGIT_BLOCK_BYTES = 1L << 30;
    /** Vocabulary columns per LM-head product. */
    private static final int VOCAB_CHUNK = 16_384;

    /** One layer's weights on the device; q, k, v projections as one {@code [3 D][D]} matrix. */
    private record LayerWeights(DeviceBuffer attnLnW, DeviceBuffer attnLnB, DeviceBuffer qkvW, DeviceBuffer qkvB,
                                DeviceBuffer innerLnW, DeviceBuffer innerLnB, DeviceBuffer outW, DeviceBuffer outB,
                                DeviceBuffer ffnLnW, DeviceBuffer ffnLnB, DeviceBuffer fc1W, DeviceBuffer fc1B,
                                DeviceBuffer ffnInnerLnW, DeviceBuffer ffnInnerLnB, DeviceBuffer fc2W,
                                DeviceBuffer fc2B) {
    }

    private final CudaDevice device;
    private final Precision precision;
    private final LongNetConfig config;
    private final DilatedAttentionConfig attention;
    private final Xpos xpos;
    private final Xpos.Parameters xposParameters;
    private final GpuAttentionKernel attentionKernel;
    private final ModelKernels kernels;
    /** The cuBLAS handle, then every weight buffer; released in reverse order. */
    private final NativeResources resources = new NativeResources();
    private final CublasGemm gemm;
    private final DeviceBuffer embedF32;
    private final DeviceBuffer embedLm;
    private final DeviceBuffer finalLnW;
    private final DeviceBuffer finalLnB;
    private final DeviceBuffer logScale;
    private final DeviceBuffer invFreq;
    private final LayerWeights[] layers;
    private final long logitBlockBytes;
    /** The activations of the longest run so far, reused by later calls. */
    private Activations cached;
    /** Set only while {@link #profileLogProbs} runs. */
    private PhaseTimer timer;

    /**
     * Uploads {@code model}'s weights to GPU {@code ordinal}.
     *
     * @throws IllegalArgumentException when the head width has no attention kernel
     */
    public DeviceDecoder(LongNetModel model, int ordinal, Precision precision) {
        this(model, ordinal, precision, LOGIT_BLOCK_BYTES);
    }

    /** As the public constructor, with LM-head logit blocks of at most {@code logitBlockBytes} (tests). */
    DeviceDecoder(LongNetModel model, int ordinal, Precision precision, long logitBlockBytes) {
        this.logitBlockBytes = logitBlockBytes;
        this.config = model.config();
        this.attention = config.attentionConfig();
        LaunchGeometry.requireHeadWidth(attention.headDim());
        String reason = CublasGemm.unavailableReason();
        if (reason != null) {
            throw new IllegalStateException("GPU model: " + reason);
        }
        this.precision = precision;
        this.xpos = model.xpos();
        this.xposParameters = xpos.parameters();
        this.attentionKernel = new GpuAttentionKernel(ordinal, precision);
        this.device = attentionKernel.device();
        this.kernels = new ModelKernels(device);
        device.makeCurrent();
        ModelWeights w = model.weights();
        try {
            resources.add(device.memory().reserve(weightBytes(w), "the model's weights"));
            gemm = resources.add(new CublasGemm(device));
            float[] embed = w.data(TensorNames.EMBED_TOKENS);
            embedF32 = resources.add(upload(embed));
            embedLm = precision == Precision.BF16 ? matrix(embed) : embedF32;
            finalLnW = resources.add(upload(w.data(TensorNames.FINAL_LN_WEIGHT)));
            finalLnB = resources.add(upload(w.data(TensorNames.FINAL_LN_BIAS)));
            logScale = resources.add(upload(xposParameters.logScales()));
            invFreq = resources.add(upload(xposParameters.inverseFrequencies()));
            layers = new LayerWeights[config.layers()];
            boolean sub = config.subLn();
            for (int i = 0; i < layers.length; i++) {
                TensorNames.Layer n = TensorNames.layer(i);
                layers[i] = new LayerWeights(upload(w, n.attnLnWeight()), upload(w, n.attnLnBias()),
                        matrix(w.data(n.qWeight()), w.data(n.kWeight()), w.data(n.vWeight())),
                        resources.add(upload(concat(w.data(n.qBias()), w.data(n.kBias()), w.data(n.vBias())))),
                        sub ? upload(w, n.innerAttnLnWeight()) : null, sub ? upload(w, n.innerAttnLnBias()) : null,
                        matrix(w.data(n.outWeight())), upload(w, n.outBias()), upload(w, n.ffnLnWeight()),
                        upload(w, n.ffnLnBias()), matrix(w.data(n.fc1Weight())), upload(w, n.fc1Bias()),
                        sub ? upload(w, n.ffnInnerLnWeight()) : null, sub ? upload(w, n.ffnInnerLnBias()) : null,
                        matrix(w.data(n.fc2Weight())), upload(w, n.fc2Bias()));
            }
            check(JCudaDriver.cuCtxSynchronize(), "cuCtxSynchronize (weight upload)");
        } catch (RuntimeException | Error e) {
            resources.closeAfter(e);
            throw e;
        }
    }

    @Override
    public String name() {
        return "gpu:" + device.ordinal() + " (" + device.name() + ", " + precision.name().toLowerCase() + " model)";
    }

    public Precision precision() {
        return precision;
    }

    /** Device bytes the weights take at most: all in fp32, and in bf16 the embedding's second copy. */
    private long weightBytes(ModelWeights w) {
        long params = 0;
        for (String name : w.names()) {
            params += w.data(name).length;
        }
        return 4 * params + (precision == Precision.BF16 ? 2L * config.vocabSize() * config.dModel() : 0);
    }

    /**
     * Device bytes one call over {@code n} tokens takes: the activations, and the LM head's logit block
     * (the weights come on top).
     */
    public long callBytes(int n) {
        long block = lmBlock(n);
        return activationBytes(n) + 4 * block * lmChunk() + 20 * block + 4L * n;
    }

    /** Device bytes the activations of an {@code n}-token sequence take (the weights come on top). */
    public long activationBytes(int n) {
        long d = config.dModel();
        long es = elementBytes();
        long nd = n * d;
        boolean bf16 = precision == Precision.BF16;
        long nf = (long) n * config.ffnDim();
        // As Activations allocates them: tokens, x, h, qkv, q, k, v, o, lse, ob, fb, f.
        return 4L * (n + 1) + 4 * nd + es * nd + 3 * es * nd + 3 * es * nd + 4 * nd + 4L * n * config.heads()
                + (bf16 || config.subLn() ? es * nd : 0) + es * nf
                + (bf16 && config.subLn() && !fusedFfnNorm() ? 4 * nf : 0);
    }

    @Override
    public synchronized LongNetModel.Output forward(int[] tokens, boolean keepHiddenStates) {
        int n = tokens.length;
        List<float[]> hidden = new ArrayList<>();
        try (Activations a = start(tokens, SequenceWindow.whole(n))) {
            if (keepHiddenStates) {
                hidden.add(download(a.x, n));
            }
            for (int l = 0; l < layers.length; l++) {
                layer(l, a, n);
                if (keepHiddenStates) {
                    hidden.add(download(a.x, n));
                }
            }
            kernels.layerNorm(Precision.FP32, a.x.address(), finalLnW.address(), finalLnB.address(), a.x.address(), n,
                    config.dModel(), config.layerNormEps());
            return new LongNetModel.Output(n, download(a.x, n), keepHiddenStates ? List.copyOf(hidden) : List.of());
        }
    }

    @Override
    public synchronized float[] hiddenStates(int[] tokens, SequenceWindow where, int layerCount) {
        ModelDecoders.checkLayers(layerCount, layers.length);
        int n = tokens.length;
        try (Activations a = start(tokens, where)) {
            for (int l = 0; l < (layerCount < 0 ? layers.length : layerCount); l++) {
                layer(l, a, n);
            }
            if (layerCount < 0) {
                kernels.layerNorm(Precision.FP32, a.x.address(), finalLnW.address(), finalLnB.address(), a.x.address(),
                        n, config.dModel(), config.layerNormEps());
            }
            return download(a.x, n);
        }
    }

    @Override
    public synchronized float[] nextTokenLogProbs(int[] tokens, SequenceWindow where) {
        int n = tokens.length;
        try (Activations a = start(tokens, where)) {
            for (int l = 0; l < layers.length; l++) {
                layer(l, a, n);
            }
            int d = config.dModel();
            kernels.layerNorm(precision, a.x.address(), finalLnW.address(), finalLnB.address(), a.h.address(), n, d,
                    config.layerNormEps());
            lap(Phase.LAYER_NORM);
            // The targets are the tokens from the second on, then the one after the run: tokens[1..n], uploaded.
            return lmHead(a, a.h.address(), a.tokens.address() + 4, where.scored(n));
        }
    }

    /**
     * {@link #nextTokenLogProbs} with the time of each {@link Phase} (milliseconds, in its order), for the
     * benchmark.
     */
    synchronized double[] profileLogProbs(int[] tokens) {
        device.makeCurrent();
        try (PhaseTimer t = new PhaseTimer()) {
            timer = t;
            nextTokenLogProbs(tokens);
            t.lap(Phase.HOST);
            return t.millis();
        } finally {
            timer = null;
        }
    }

    private void lap(Phase phase) {
        if (timer != null) {
            timer.lap(phase);
        }
    }

    /**
     * {@code lp[i] = log softmax(features[i] . embed^T)[targets[i]]} for {@code count} rows of final features
     * (device address, this decoder's input type) and targets (device address of int32): row blocks of
     * logits within {@link #LOGIT_BLOCK_BYTES}, vocabulary chunks of {@link #VOCAB_CHUNK}, a running log-sum-exp per row.
     */
    private float[] lmHead(Activations a, long features, long targets, int count) {
        if (count == 0) {
            return new float[0];
        }
        int vocab = config.vocabSize();
        int d = config.dModel();
        int chunk = lmChunk();
        int block = lmBlock(count);
        boolean exact = precision == Precision.FP32;
        for (int r0 = 0; r0 < count; r0 += block) {
            int rows = Math.min(block, count - r0);
            for (int c0 = 0; c0 < vocab; c0 += chunk) {
                int cols = Math.min(chunk, vocab - c0);
                gemm.linear(precision, features + (long) r0 * d * elementBytes(),
                        embedLm.address() + (long) c0 * d * elementBytes(), a.logits.address(), rows, d, cols, false);
                lap(Phase.LM_GEMM);
                kernels.lseUpdate(exact, a.logits.address(), rows, cols, c0, targets + 4L * r0, a.max.address(),
                        a.sum.address(), a.target.address());
                lap(Phase.LM_LSE);
            }
            kernels.lseFinish(a.max.address(), a.sum.address(), a.target.address(), a.lp.address() + 4L * r0, rows);
            lap(Phase.LM_LSE);
        }
        float[] out = new float[count];
        a.lp.download(FloatBuffer.wrap(out), 4L * count);
        return out;
    }

    /** Vocabulary columns per LM-head product. */
    private int lmChunk() {
        return Math.min(config.vocabSize(), VOCAB_CHUNK);
    }

    /** Rows per LM-head logit block for {@code count} rows. */
    private int lmBlock(int count) {
        return (int) Math.max(1, Math.min(count, logitBlockBytes / (4L * lmChunk())));
    }

    /** One decoder layer in place on {@code a.x}; queued, no host synchronisation. */
    private void layer(int l, Activations a, int n) {
        LayerWeights w = layers[l];
        int d = config.dModel();
        int ffn = config.ffnDim();
        double eps = config.layerNormEps();
        long nd = (long) n * d;
        boolean exact = precision == Precision.FP32;
        kernels.layerNorm(precision, a.x.address(), w.attnLnW.address(), w.attnLnB.address(), a.h.address(), n, d, eps);
        lap(Phase.LAYER_NORM);
        // The products that only feed a kernel reading the decoder's type write that type (bf16: half the bytes).
        gemm.linear(precision, a.h.address(), w.qkvW.address(), a.qkv.address(), precision, n, d, 3 * d, false);
        lap(Phase.GEMM);
        long window = xposParameters.window();
        long total = a.where.total();
        long minPos = Math.floorDiv(-Math.min(total, window), 2L);
        kernels.qkvXpos(precision, a.qkv.address(), w.qkvB.address(), a.q.address(), a.k.address(), a.v.address(), n,
                config.heads(), config.headDim() / 2, logScale.address(), invFreq.address(), window, total, minPos,
                xposParameters.scaleBase(), a.where.start());
        lap(Phase.XPOS);
        attentionKernel.launchBranches(attention, attention.branches(), n, a.q, a.k, a.v, a.o, a.lse, null);
        lap(Phase.ATTENTION);
        if (config.subLn()) {
            kernels.layerNorm(precision, a.o.address(), w.innerLnW.address(), w.innerLnB.address(), a.ob.address(), n,
                    d, eps);
        } else if (!exact) {
            kernels.toBf16(a.o.address(), a.ob.address(), nd);
        }
        lap(Phase.LAYER_NORM);
        gemm.linear(precision, a.ob.address(), w.outW.address(), a.x.address(), n, d, d, true);
        lap(Phase.GEMM);
        kernels.addBias(a.x.address(), w.outB.address(), n, d);
        lap(Phase.BIAS);
        kernels.layerNorm(precision, a.x.address(), w.ffnLnW.address(), w.ffnLnB.address(), a.h.address(), n, d, eps);
        lap(Phase.LAYER_NORM);
        // fp32: fc1 into f (= fb), GELU and the sub-LN in place. bf16: fc1 into fb (bf16), then GELU, and the
        // sub-LN fused with it (the fp32 activation stays in shared memory), in place.
        gemm.linear(precision, a.h.address(), w.fc1W.address(), a.fb.address(), precision, n, d, ffn, false);
        lap(Phase.GEMM);
        if (config.subLn() && fusedFfnNorm()) {
            kernels.biasGeluLayerNorm(a.fb.address(), w.fc1B.address(), w.ffnInnerLnW.address(),
                    w.ffnInnerLnB.address(), a.fb.address(), n, ffn, eps);
            lap(Phase.GELU);
        } else if (config.subLn()) {
            kernels.biasGelu(precision, Precision.FP32, a.fb.address(), w.fc1B.address(), a.f.address(), n, ffn);
            lap(Phase.GELU);
            kernels.layerNorm(precision, a.f.address(), w.ffnInnerLnW.address(), w.ffnInnerLnB.address(),
                    a.fb.address(), n, ffn, eps);
            lap(Phase.LAYER_NORM);
        } else {
            kernels.biasGelu(precision, precision, a.fb.address(), w.fc1B.address(), a.fb.address(), n, ffn);
            lap(Phase.GELU);
        }
        gemm.linear(precision, a.fb.address(), w.fc2W.address(), a.x.address(), n, ffn, d, true);
        lap(Phase.GEMM);
        kernels.addBias(a.x.address(), w.fc2B.address(), n, d);
        lap(Phase.BIAS);
    }

    /**
     * Checks the tokens and their window, reserves and allocates the activations, uploads the tokens (and
     * the one after them) and gathers their embeddings.
     */
    private Activations start(int[] tokens, SequenceWindow where) {
        int n = tokens.length;
        config.checkTokens(tokens, config.dModel());  // only the hidden states come back to the heap
        where.check(n, config);
        xpos.table(where.start(), 0, where.total());  // the centred span must keep the factors in float range
        device.makeCurrent();
        if (cached != null && cached.rows < n) {
            cached.free();
            cached = null;
        }
        if (cached == null) {
            cached = new Activations(n);
        }
        Activations a = cached;
        a.where = where;
        a.tokens.upload(tokens, 0);
        if (where.nextToken() >= 0) {
            a.tokens.upload(new int[] {where.nextToken()}, n);
        }
        lap(Phase.HOST);
        kernels.embedGather(a.tokens.address(), embedF32.address(), a.x.address(), n, config.dModel());
        lap(Phase.BIAS);
        return a;
    }

    /**
     * The activations of up to {@code rows} positions: fp32 residual stream and products, inputs in the
     * decoder's type, the LM head's buffers. Kept from call to call (allocating and freeing gigabytes costs
     * more than a layer), reserved in the device's budget until the decoder closes or a longer run needs
     * more; closing them after a call only waits for its kernels.
     */
    private final class Activations implements AutoCloseable {
        private final NativeResources held = new NativeResources();
        final int rows;
        /** The run of the current call. */
        SequenceWindow where;
        final DeviceBuffer tokens;
        final DeviceBuffer x;
        final DeviceBuffer h;
        final DeviceBuffer qkv;
        final DeviceBuffer q;
        final DeviceBuffer k;
        final DeviceBuffer v;
        final DeviceBuffer o;
        final DeviceBuffer lse;
        final DeviceBuffer ob;
        final DeviceBuffer f;
        final DeviceBuffer fb;
        final DeviceBuffer logits;
        final DeviceBuffer max;
        final DeviceBuffer sum;
        final DeviceBuffer target;
        final DeviceBuffer lp;

        Activations(int n) {
            this.rows = n;
            long nd = (long) n * config.dModel();
            long nf = (long) n * config.ffnDim();
            long es = elementBytes();
            boolean bf16 = precision == Precision.BF16;
            try {
                held.add(device.memory().reserve(callBytes(n), "a run of " + n + " tokens through the model"));
                tokens = held.add(new DeviceBuffer(4L * (n + 1)));
                x = held.add(new DeviceBuffer(4 * nd));
                h = held.add(new DeviceBuffer(es * nd));
                qkv = held.add(new DeviceBuffer(3 * es * nd));
                q = held.add(new DeviceBuffer(es * nd));
                k = held.add(new DeviceBuffer(es * nd));
                v = held.add(new DeviceBuffer(es * nd));
                o = held.add(new DeviceBuffer(4 * nd));
                lse = held.add(new DeviceBuffer(4L * n * config.heads()));
                ob = bf16 || config.subLn() ? held.add(new DeviceBuffer(es * nd)) : o;
                fb = held.add(new DeviceBuffer(es * nf));
                // bf16: GELU and the sub-LN run in place on fb, unless the row is too wide for shared memory.
                f = !bf16 ? fb : config.subLn() && !fusedFfnNorm() ? held.add(new DeviceBuffer(4 * nf)) : null;
                long block = lmBlock(n);
                logits = held.add(new DeviceBuffer(4L * block * lmChunk()));
                max = held.add(new DeviceBuffer(8L * block));
                sum = held.add(new DeviceBuffer(8L * block));
                target = held.add(new DeviceBuffer(4L * block));
                lp = held.add(new DeviceBuffer(4L * n));
            } catch (RuntimeException | Error e) {
                held.closeAfter(e);
                throw e;
            }
        }

        /** The end of a call: waits for its kernels (the buffers stay for the next call). */
        @Override
        public void close() {
            where = null;
            check(JCudaDriver.cuCtxSynchronize(), "cuCtxSynchronize (decoder)");
        }

        /** Frees the buffers and their reservation, once queued kernels are done with them. */
        void free() {
            try {
                check(JCudaDriver.cuCtxSynchronize(), "cuCtxSynchronize (decoder)");
            } finally {
                held.close();
            }
        }
    }

    /** Whether the bf16 feed-forward's GELU and sub-LN run as one kernel (rows that fit its shared memory). */
    private boolean fusedFfnNorm() {
        return precision == Precision.BF16 && config.ffnDim() <= ModelKernels.MAX_FUSED_WIDTH;
    }

    private long elementBytes() {
        return precision == Precision.BF16 ? 2 : 4;
    }

    private float[] download(DeviceBuffer x, int n) {
        float[] out = new float[n * config.dModel()];
        x.download(FloatBuffer.wrap(out), 4L * out.length);
        return out;
    }

    private DeviceBuffer upload(ModelWeights w, String name) {
        return resources.add(upload(w.data(name)));
    }

    private static DeviceBuffer upload(float[] data) {
        return upload(FloatBuffer.wrap(data), 4L * data.length);
    }

    private static DeviceBuffer upload(double[] data) {
        return upload(DoubleBuffer.wrap(data), 8L * data.length);
    }

    private static DeviceBuffer upload(Buffer data, long bytes) {
        DeviceBuffer b = new DeviceBuffer(bytes);
        try {
            b.upload(data);
            return b;
        } catch (RuntimeException | Error e) {
            b.close();
            throw e;
        }
    }

    /** A product's weight matrix (the parts stacked by rows) in this decoder's input type, held by it. */
    private DeviceBuffer matrix(float[]... parts) {
        float[] all = concat(parts);
        if (precision == Precision.FP32) {
            return resources.add(upload(all));
        }
        try (DeviceBuffer staging = upload(all)) {
            DeviceBuffer bf16 = resources.add(new DeviceBuffer(2L * all.length));
            kernels.toBf16(staging.address(), bf16.address(), all.length);
            check(JCudaDriver.cuCtxSynchronize(), "cuCtxSynchronize (weights to bf16)");
            return bf16;
        }
    }

    private static float[] concat(float[]... parts) {
        if (parts.length == 1) {
            return parts[0];
        }
        int total = 0;
        for (float[] p : parts) {
            total += p.length;
        }
        float[] all = new float[total];
        int at = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, all, at, p.length);
            at += p.length;
        }
        return all;
    }

    @Override
    public synchronized void close() {
        device.makeCurrent();
        try {
            if (cached != null) {
                cached.free();
                cached = null;
            }
        } finally {
            resources.close();
        }
    }
}
