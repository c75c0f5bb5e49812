package io.longnet.jobs;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.Future;

/**
 * Runs the pieces of one task's file I/O (reading and converting rows, writing them) on the JVM's common
 * pool: a GPU task holds partitions of hundreds of thousands of positions, and one thread would convert
 * GBs while the executor's other cores sit idle. A failure is reported as the sequential loop would:
 * that of the first failing piece in list order.
 */
final class ParallelIo {

    /** One piece of I/O. */
    @FunctionalInterface
    interface Piece {
        void run() throws IOException;
    }

    private ParallelIo() {
    }

    static void runAll(List<Piece> pieces) throws IOException {
        if (pieces.size() == 1) {
            pieces.get(0).run();
            return;
        }
        List<java.util.concurrent.Callable<Void>> calls = new ArrayList<>(pieces.size());
        for (Piece p : pieces) {
            calls.add(() -> {
                p.run();
                return null;
            });
        }
        // invokeAll waits for every piece, so none still writes into the caller's arrays afterwards.
        List<Future<Void>> done = ForkJoinPool.commonPool().invokeAll(calls);
        for (Future<Void> f : done) {
            try {
                f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                if (cause instanceof IOException io) {
                    throw io;
                }
                if (cause instanceof RuntimeException r) {
                    throw r;
                }
                if (cause instanceof Error err) {
                    throw err;
                }
                throw new UncheckedIOException(new IOException(cause));
            }
        }
    }
}
