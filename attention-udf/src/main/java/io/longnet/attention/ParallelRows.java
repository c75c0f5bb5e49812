package io.longnet.attention;

/**
 * The threads a float64 training step runs on (docs/ARCHITECTURE.md §7): a fixed pool that splits a range of
 * rows into contiguous chunks, one per thread, for the model's row-local work (products, LayerNorm, GELU), and
 * that {@link DilatedAttentionGradients} can borrow for its work items, so that a task holds one pool.
 *
 * <p>Results do not depend on the number of threads as long as every chunk writes only the outputs of its own
 * rows and computes each of them in an order of its own (a product's element sums over its depth in
 * increasing order whatever rows share its chunk): the callers are shaped so. With one thread it owns no
 * threads and runs on the caller's.
 */
public final class ParallelRows implements AutoCloseable {

    /** Work on rows {@code [from, to)}. */
    public interface Chunk {
        void run(int from, int to);
    }

    private final WorkPool pool;

    /**
     * A pool of {@code threads} threads (one: none, the caller's thread).
     *
     * @throws IllegalArgumentException when {@code threads < 1}
     */
    public ParallelRows(int threads) {
        this.pool = new WorkPool(threads, "longnet-training");
    }

    public int threads() {
        return pool.threads();
    }

    WorkPool pool() {
        return pool;
    }

    /**
     * Runs {@code body} over rows {@code [0, rows)} cut into at most {@link #threads} contiguous chunks of at
     * least {@code minRows} rows (fewer, larger chunks when the rows are few: a chunk's fixed costs, such as
     * packing a product's other operand, then stay small); returns when all are done. Inline on the caller's
     * thread when one chunk suffices.
     */
    public void split(int rows, int minRows, Chunk body) {
        if (rows <= 0) {
            return;
        }
        int chunks = (int) Math.min(threads(), Math.max(1, rows / (long) Math.max(1, minRows)));
        if (chunks == 1) {
            body.run(0, rows);
            return;
        }
        pool.run(chunks, () -> null, (item, unused) -> {
            int c = (int) item;
            body.run((int) ((long) rows * c / chunks), (int) ((long) rows * (c + 1) / chunks));
        });
    }

    /** Stops the threads. */
    @Override
    public void close() {
        pool.close();
    }
}
