package io.longnet.attention;

import io.longnet.attention.SegmentTileAttention.Rows;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.List;

/**
 * Exact dilated attention on the CPU. Branches run one after another; inside a branch the work items
 * (segment, head, block of {@link SegmentTileAttention#BLOCK_Q} query rows) are spread over a bounded
 * pool. Each output row is written by exactly one item per branch and the branches are merged in config
 * order, so the result does not depend on the number of threads.
 */
public final class CpuAttentionKernel implements AttentionKernel {

    private static final int BLOCK = SegmentTileAttention.BLOCK_Q;

    private final WorkPool pool;

    /** A kernel using all available processors. */
    public CpuAttentionKernel() {
        this(Runtime.getRuntime().availableProcessors());
    }

    public CpuAttentionKernel(int threads) {
        this.pool = new WorkPool(threads, "longnet-cpu-attention");
    }

    @Override
    public String name() {
        return Backend.CPU.toString();
    }

    public int threads() {
        return pool.threads();
    }

    @Override
    public void forward(DilatedAttentionConfig config, List<Branch> branches, FloatBuffer q, FloatBuffer k,
                        FloatBuffer v, int n, FloatBuffer o, FloatBuffer lse) {
        AttentionKernel.checkShapes(config, q, k, v, n, o, lse);
        AttentionKernel.checkBranches(config, branches);
        // Slices make element 0 each buffer's position, as the interface promises.
        FloatBuffer qs = q.slice();
        FloatBuffer ks = k.slice();
        FloatBuffer vs = v.slice();
        FloatBuffer os = o.slice();
        FloatBuffer ls = lse.slice();
        int heads = config.heads();
        int d = config.headDim();
        fill(os, n * heads * d, 0f);
        fill(ls, n * heads, Float.NEGATIVE_INFINITY);
        for (Branch branch : branches) {
            int w = branch.segmentLength();
            int r = branch.dilation();
            int segments = (int) branch.segments(n);
            int blocks = blocks(branch.selectedRows(Math.min(w, n), 0));
            int rowStride = r * heads * d;
            parallel((long) segments * heads * blocks, (item, tile) -> {
                int block = (int) (item % blocks);
                int head = (int) (item / blocks % heads);
                int start = (int) (item / blocks / heads) * w;
                DilatedSelection sel = DilatedSelection.of(0, Math.min(w, n - start), config.offset(branch, head), r);
                int i0 = block * BLOCK;
                if (i0 < sel.count()) {
                    Rows rows = new Rows(((start + sel.firstRow()) * heads + head) * d, rowStride);
                    tile.attend(qs, rows, ks, vs, rows, sel.count(), os, ls, i0,
                            Math.min(sel.count(), i0 + BLOCK), 0, config.causal());
                }
            }, d);
        }
    }

    @Override
    public void attendGathered(DilatedAttentionConfig config, Branch branch, int offsetInSegment,
                               FloatBuffer q, int n, List<FloatBuffer> keys, List<FloatBuffer> values,
                               FloatBuffer o, FloatBuffer lse) {
        AttentionKernel.checkShapes(config, q, q, q, n, o, lse);
        AttentionKernel.checkBranches(config, List.of(branch));
        int heads = config.heads();
        int d = config.headDim();
        if (keys.size() != heads || values.size() != heads) {
            throw new IllegalArgumentException("gathered keys/values for " + keys.size() + "/" + values.size()
                    + " heads, config has " + heads);
        }
        FloatBuffer qs = q.slice();
        FloatBuffer os = o.slice();
        FloatBuffer ls = lse.slice();
        FloatBuffer[] ks = new FloatBuffer[heads];
        FloatBuffer[] vs = new FloatBuffer[heads];
        DilatedSelection[] sel = new DilatedSelection[heads];
        int maxCount = 0;
        for (int h = 0; h < heads; h++) {
            ks[h] = keys.get(h).slice();
            vs[h] = values.get(h).slice();
            if (ks[h].remaining() % d != 0 || vs[h].remaining() != ks[h].remaining()) {
                throw new IllegalArgumentException("head " + h + ": gathered keys hold " + ks[h].remaining()
                        + " floats and values " + vs[h].remaining() + ", need equal multiples of d = " + d);
            }
            sel[h] = DilatedSelection.of(offsetInSegment, n, config.offset(branch, h), branch.dilation());
            maxCount = Math.max(maxCount, sel[h].count());
        }
        int blocks = blocks(maxCount);
        int rowStride = branch.dilation() * heads * d;
        Rows compact = new Rows(0, d);
        parallel((long) heads * blocks, (item, tile) -> {
            int head = (int) (item / blocks);
            int i0 = (int) (item % blocks) * BLOCK;
            DilatedSelection s = sel[head];
            if (i0 < s.count()) {
                Rows rows = new Rows((s.firstRow() * heads + head) * d, rowStride);
                tile.attend(qs, rows, ks[head], vs[head], compact, ks[head].remaining() / d, os, ls, i0,
                        Math.min(s.count(), i0 + BLOCK), s.firstIndex(), config.causal());
            }
        }, d);
    }

    private static int blocks(int rows) {
        return (rows + BLOCK - 1) / BLOCK;
    }

    /** Runs items {@code [0, items)} on the pool, each worker with its own tile. */
    private void parallel(long items, WorkPool.Item<SegmentTileAttention> body, int d) {
        pool.run(items, () -> new SegmentTileAttention(d), body);
    }

    private static void fill(FloatBuffer b, int count, float value) {
        float[] chunk = new float[Math.min(count, 1 << 16)];
        Arrays.fill(chunk, value);
        for (int at = 0; at < count; at += chunk.length) {
            b.put(at, chunk, 0, Math.min(chunk.length, count - at));
        }
    }

    @Override
    public void close() {
        pool.close();
    }
}
