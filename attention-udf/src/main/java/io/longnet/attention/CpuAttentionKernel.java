package io.longnet.attention;

import io.longnet.attention.SegmentTileAttention.Rows;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.List;

/**
 * Exact dilated attention on the CPU. Where the branches' segments nest in the longest one's (config B's
 * do) and the sequence has enough of them, a work item is a region of that length and a head, attended by every branch in turn
 * ({@link QueryTiles#byRegion}: the region's rows stay in the caches between branches); else branches run
 * one after another, each item a segment, a head and a tile of {@link SegmentTileAttention#TILE_Q} query
 * rows. Items run on a bounded pool. Each output row is written by exactly one item per branch and the
 * branches are merged in config order, so the result does not depend on the number of threads.
 */
public final class CpuAttentionKernel implements AttentionKernel {

    private static final int TILE = SegmentTileAttention.TILE_Q;

    private final WorkPool pool;

    /** A kernel using all available processors. */
    public CpuAttentionKernel() {
        this(Runtime.getRuntime().availableProcessors());
    }

    public CpuAttentionKernel(int threads) {
        this.pool = new WorkPool(threads, "longnet-cpu-attention");
    }

    /** "cpu", and what its tiles run on: {@code cpu (tiles: Vector API, 256-bit)} or the scalar fallback. */
    @Override
    public String name() {
        return Backend.CPU + " (tiles: " + tiles() + ")";
    }

    /** What the tiles run on in this JVM: "Vector API, 256-bit", or the scalar loops and why. */
    public static String tiles() {
        return SegmentTileAttention.describe();
    }

    public int threads() {
        return pool.threads();
    }

    @Override
    public void forward(DilatedAttentionConfig config, List<Branch> branches, FloatBuffer q, FloatBuffer k,
                        FloatBuffer v, int n, FloatBuffer o, FloatBuffer lse) {
        AttentionInputs.requireBranches(config, branches);
        AttentionInputs.requireForward(config, n, q, k, v, o, lse);
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
        boolean causal = config.causal();
        QueryTiles.Body<SegmentTileAttention> body = (tile, head, rows, count, i0, i1, shift) ->
                tile.attend(qs, rows, ks, vs, rows, count, os, ls, i0, i1, shift, causal);
        if (QueryTiles.byRegionFits(branches, n, heads, pool.threads())) {
            QueryTiles.byRegion(pool, () -> SegmentTileAttention.create(d), config, branches, n, TILE, body);
        } else {
            for (Branch branch : branches) {
                QueryTiles.inPlace(pool, () -> SegmentTileAttention.create(d), config, branch, n, TILE, body);
            }
        }
    }

    @Override
    public void attendGathered(DilatedAttentionConfig config, Branch branch, int offsetInSegment,
                               FloatBuffer q, int n, List<FloatBuffer> keys, List<FloatBuffer> values,
                               FloatBuffer o, FloatBuffer lse) {
        DilatedSelection[] sel = AttentionInputs.requireGathered(config, branch, offsetInSegment, n, q, keys, values,
                o, lse);
        int heads = config.heads();
        int d = config.headDim();
        FloatBuffer qs = q.slice();
        FloatBuffer os = o.slice();
        FloatBuffer ls = lse.slice();
        FloatBuffer[] ks = new FloatBuffer[heads];
        FloatBuffer[] vs = new FloatBuffer[heads];
        for (int h = 0; h < heads; h++) {
            ks[h] = keys.get(h).slice();
            vs[h] = values.get(h).slice();
        }
        Rows compact = new Rows(0, d);
        boolean causal = config.causal();
        QueryTiles.gathered(pool, () -> SegmentTileAttention.create(d), config, branch, sel, TILE,
                (tile, head, rows, count, i0, i1, shift) -> tile.attend(qs, rows, ks[head], vs[head], compact,
                        ks[head].remaining() / d, os, ls, i0, i1, shift, causal));
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
