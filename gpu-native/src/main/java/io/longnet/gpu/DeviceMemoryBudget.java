package io.longnet.gpu;

import java.util.Locale;

/**
 * The bytes of one GPU that this process's tasks may hold at once (docs/ARCHITECTURE.md §5): Spark runs
 * several tasks per executor, and with {@code spark.task.resource.gpu.amount} below 1 several of them on
 * one GPU; each reserves what it is about to allocate and waits while the others hold the rest, so that
 * they take turns instead of failing in {@code cuMemAlloc}. A reservation larger than the whole budget
 * fails at once with what would fit.
 */
public final class DeviceMemoryBudget {

    /** Share of the memory free when the device is first used that the budget hands out ({@code -D}, 0..1). */
    public static final String FRACTION_PROPERTY = "longnet.gpu.memory.fraction";
    static final double DEFAULT_FRACTION = 0.85;

    private final int ordinal;
    private final long capacity;
    private long held;

    DeviceMemoryBudget(int ordinal, long capacity) {
        this.ordinal = ordinal;
        this.capacity = capacity;
    }

    /** The budget of device {@code ordinal} with {@code freeBytes} free, sized by {@value #FRACTION_PROPERTY}. */
    static DeviceMemoryBudget of(int ordinal, long freeBytes) {
        String set = System.getProperty(FRACTION_PROPERTY);
        double fraction = DEFAULT_FRACTION;
        if (set != null) {
            try {
                fraction = Double.parseDouble(set.strip());
            } catch (NumberFormatException e) {
                fraction = Double.NaN;
            }
            if (!(fraction > 0 && fraction <= 1)) {
                throw new IllegalArgumentException("-D" + FRACTION_PROPERTY + "=" + set + ": expected a number in (0, 1]");
            }
        }
        return new DeviceMemoryBudget(ordinal, (long) (freeBytes * fraction));
    }

    public long capacity() {
        return capacity;
    }

    /** Bytes reserved now. */
    public synchronized long held() {
        return held;
    }

    /**
     * Reserves {@code bytes} for {@code what}, waiting while other tasks hold too much; released by closing
     * the returned reservation.
     *
     * @throws IllegalArgumentException when {@code bytes} exceed the whole budget
     * @throws IllegalStateException    when the waiting thread is interrupted (a cancelled task)
     */
    public synchronized Reservation reserve(long bytes, String what) {
        if (bytes > capacity) {
            throw new IllegalArgumentException(String.format(Locale.ROOT, "%s needs %.2f GiB of GPU %d's memory, more"
                    + " than the %.2f GiB this process may use there (-D%s): choose a smaller --partition-length",
                    what, gib(bytes), ordinal, gib(capacity), FRACTION_PROPERTY));
        }
        while (held + bytes > capacity) {
            try {
                wait();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for GPU " + ordinal + " memory for " + what, e);
            }
        }
        held += bytes;
        return new Reservation(bytes);
    }

    private synchronized void release(long bytes) {
        held -= bytes;
        notifyAll();
    }

    private static double gib(long bytes) {
        return bytes / (double) (1L << 30);
    }

    /** Bytes held until closed (once). */
    public final class Reservation implements AutoCloseable {
        private long bytes;

        private Reservation(long bytes) {
            this.bytes = bytes;
        }

        @Override
        public void close() {
            long b;
            synchronized (this) {
                b = bytes;
                bytes = 0;
            }
            if (b > 0) {
                release(b);
            }
        }
    }
}
