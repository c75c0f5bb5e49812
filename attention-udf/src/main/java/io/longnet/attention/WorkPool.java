package io.longnet.attention;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * The engines' bounded pool: runs numbered work items {@code [0, items)} on up to {@code threads} workers,
 * each pulling the next index and owning its scratch (a tile). With one thread it owns no threads and
 * runs items on the caller's thread. Results do not depend on the thread count as long as each item
 * writes only its own outputs, which the engines' item decompositions guarantee.
 */
final class WorkPool implements AutoCloseable {

    /** The body of one work item, given the running worker's scratch. */
    interface Item<S> {
        void run(long item, S scratch);
    }

    private final int threads;
    private final ExecutorService pool; // null with one thread

    WorkPool(int threads, String name) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1 (got " + threads + ")");
        }
        this.threads = threads;
        if (threads == 1) {
            this.pool = null;
        } else {
            AtomicInteger count = new AtomicInteger();
            this.pool = Executors.newFixedThreadPool(threads, r -> {
                Thread t = new Thread(r, name + "-" + count.incrementAndGet());
                t.setDaemon(true);
                return t;
            });
        }
    }

    int threads() {
        return threads;
    }

    /** Runs items {@code [0, items)}; inline when one worker suffices. */
    <S> void run(long items, Supplier<S> scratch, Item<S> body) {
        int workers = (int) Math.min(threads, items);
        if (workers <= 1) {
            S s = scratch.get();
            for (long item = 0; item < items; item++) {
                body.run(item, s);
            }
            return;
        }
        AtomicLong next = new AtomicLong();
        List<Future<?>> running = new ArrayList<>(workers);
        for (int t = 0; t < workers; t++) {
            running.add(pool.submit(() -> {
                S s = scratch.get();
                for (long item = next.getAndIncrement(); item < items; item = next.getAndIncrement()) {
                    body.run(item, s);
                }
            }));
        }
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
        if (pool != null) {
            pool.shutdownNow();
        }
    }
}
