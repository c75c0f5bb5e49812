package io.longnet.training;

import io.longnet.attention.ParallelRows;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * The float64 arrays of {@link TrainableModel}'s steps, kept for reuse (docs/ARCHITECTURE.md §7). Why: a step
 * over a window of 2,048 rows of longnet-2k makes about 200 MB of arrays, and the JVM zeroes a fresh array on
 * the allocating thread alone while the step's other threads wait: about a tenth of a two-thread step.
 *
 * <p>Arrays are taken by length and given back only when nothing references them any more; {@link #zeros}
 * clears a reused one on the step's threads. The pool holds the arrays of one window length at a time
 * ({@link #startStep}), so at most what one step needed. Safe for concurrent steps: each takes arrays of its
 * own.
 */
final class ArrayPool {

    /** Doubles of a chunk of {@link #zeros}' clearing: fewer would make a thread's start-up count. */
    private static final int MIN_CLEAR = 1 << 15;

    private final ParallelRows threads;
    private final Map<Integer, ArrayDeque<double[]>> free = new HashMap<>();
    /** Rows of the last step's window: the pool holds the arrays of windows of this length only. */
    private int rows = -1;

    ArrayPool(ParallelRows threads) {
        this.threads = threads;
    }

    /**
     * Starts a step over a window of {@code rows} rows: a window of another length (a sequence's last, shorter
     * window) drops what the pool holds, so that it never holds more than one step's arrays.
     */
    synchronized void startStep(int rows) {
        if (rows != this.rows) {
            free.clear();
            this.rows = rows;
        }
    }

    /** An array of {@code length} doubles whose content is unspecified: for an output written in full. */
    double[] take(int length) {
        double[] a = reused(length);
        return a == null ? new double[length] : a;
    }

    /** An array of {@code length} zeros: for an output that is added into. */
    double[] zeros(int length) {
        double[] a = reused(length);
        if (a == null) {
            return new double[length];
        }
        threads.split(length, MIN_CLEAR, (from, to) -> Arrays.fill(a, from, to, 0.0));
        return a;
    }

    /** A held array of {@code length} doubles, taken out of the pool, or null (the clearing runs outside the lock). */
    private synchronized double[] reused(int length) {
        ArrayDeque<double[]> arrays = free.get(length);
        return arrays == null ? null : arrays.poll();
    }

    /** {@code take(source.length)} holding a copy of {@code source}. */
    double[] copyOf(double[] source) {
        double[] a = take(source.length);
        System.arraycopy(source, 0, a, 0, source.length);
        return a;
    }

    /**
     * Gives arrays back for later takes; each must be referenced by nobody any more. Nulls are skipped, and so is
     * an array already given back (two records may hold the same array).
     */
    synchronized void give(double[]... arrays) {
        for (double[] a : arrays) {
            if (a == null) {
                continue;
            }
            ArrayDeque<double[]> same = free.computeIfAbsent(a.length, length -> new ArrayDeque<>());
            if (!containsIdentical(same, a)) {
                same.push(a);
            }
        }
    }

    /** Arrays held for reuse (tests). */
    synchronized int held() {
        int count = 0;
        for (ArrayDeque<double[]> arrays : free.values()) {
            count += arrays.size();
        }
        return count;
    }

    private static boolean containsIdentical(ArrayDeque<double[]> arrays, double[] a) {
        for (double[] b : arrays) {
            if (b == a) {
                return true;
            }
        }
        return false;
    }
}
