package io.longnet.attention;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Exact dilated attention on the CPU. Branches run one after another; inside a branch the work items
 * (segment, head, block of {@link SegmentTileAttention#BLOCK_Q} query rows) are spread over a bounded
 * pool. Each output row is written by exactly one item per branch and the branches are merged in config
 * order, so the result does not depend on the number of threads.
 */
public final class CpuAttentionKernel implements AttentionKernel {

    private final int threads;
    private final ExecutorService pool;

    /** A kernel using all available processors. */
    public CpuAttentionKernel() {
        this(Runtime.getRuntime().availableProcessors());
    }

    public CpuAttentionKernel(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1 (got " + threads + ")");
        }
        this.threads = threads;
        AtomicInteger count = new AtomicInteger();
        ThreadFactory factory = r -> {
            Thread t = new Thread(r, "longnet-cpu-attention-" + count.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
        this.pool = Executors.newFixedThreadPool(threads, factory);
    }

    @Override
    public String name() {
        return "cpu";
    }

    public int threads() {
        return threads;
    }

    @Override
    public void forward(DilatedAttentionConfig config, FloatBuffer q, FloatBuffer k, FloatBuffer v, int n,
                        FloatBuffer o, FloatBuffer lse) {
        AttentionKernel.checkShapes(config, q, k, v, n, o, lse);
        // Work on slices so that element 0 is each buffer's position, as the interface promises.
        FloatBuffer qs = q.slice();
        FloatBuffer ks = k.slice();
        FloatBuffer vs = v.slice();
        FloatBuffer os = o.slice();
        FloatBuffer ls = lse.slice();
        int heads = config.heads();
        int d = config.headDim();
        fill(os, n * heads * d, 0f);
        fill(ls, n * heads, Float.NEGATIVE_INFINITY);

        int workers = threads;
        SegmentTileAttention[] tiles = new SegmentTileAttention[workers];
        for (int t = 0; t < workers; t++) {
            tiles[t] = new SegmentTileAttention(heads, d);
        }
        for (Branch branch : config.branches()) {
            int w = branch.segmentLength();
            int r = branch.dilation();
            int segments = (int) branch.segments(n);
            int fullRows = branch.selectedRows(Math.min(w, n), 0);
            int blocks = (fullRows + SegmentTileAttention.BLOCK_Q - 1) / SegmentTileAttention.BLOCK_Q;
            long items = (long) segments * heads * blocks;
            AtomicLong next = new AtomicLong();
            List<Future<?>> running = new ArrayList<>(workers);
            for (int t = 0; t < workers; t++) {
                SegmentTileAttention tile = tiles[t];
                running.add(pool.submit(() -> {
                    for (long item = next.getAndIncrement(); item < items; item = next.getAndIncrement()) {
                        int block = (int) (item % blocks);
                        long rest = item / blocks;
                        int head = (int) (rest % heads);
                        int segment = (int) (rest / heads);
                        int start = segment * w;
                        int segLen = Math.min(w, n - start);
                        int offset = config.offset(branch, head);
                        int rows = branch.selectedRows(segLen, offset);
                        int i0 = block * SegmentTileAttention.BLOCK_Q;
                        if (i0 < rows) {
                            int i1 = Math.min(rows, i0 + SegmentTileAttention.BLOCK_Q);
                            tile.attend(qs, ks, vs, os, ls, head, start + offset, r, rows, i0, i1,
                                    config.causal());
                        }
                    }
                }));
            }
            awaitAll(running);
        }
    }

    private static void fill(FloatBuffer b, int count, float value) {
        float[] chunk = new float[Math.min(count, 1 << 16)];
        java.util.Arrays.fill(chunk, value);
        for (int at = 0; at < count; at += chunk.length) {
            b.put(at, chunk, 0, Math.min(chunk.length, count - at));
        }
    }

    private static void awaitAll(List<Future<?>> running) {
        try {
            for (Future<?> f : running) {
                f.get();
            }
        } catch (InterruptedException e) {
            running.forEach(f -> f.cancel(true));
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while computing attention", e);
        } catch (ExecutionException e) {
            running.forEach(f -> f.cancel(true));
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException re) {
                throw re;
            }
            if (cause instanceof Error err) {
                throw err;
            }
            throw new IllegalStateException("attention worker failed", cause);
        }
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }
}
