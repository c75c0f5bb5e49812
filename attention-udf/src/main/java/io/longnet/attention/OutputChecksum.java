package io.longnet.attention;

import java.io.Serializable;
import java.nio.FloatBuffer;
import java.util.Locale;

/**
 * A checksum of attention results that is exact and independent of summation order: every value of o and
 * lse is rounded to the grid {@code 2^-24} ({@code rint(x * 2^24)}, ties to even, the same on the device)
 * and the integers are summed modulo 2^64. Equal results give equal checksums however a reduction is split
 * or ordered (threads, CUDA blocks, partitions, a retried task); the sums divided by {@link #SCALE} are the
 * sums of the values to within {@code count * 2^-25}. docs/ARCHITECTURE.md §4, synthetic inputs.
 *
 * @param o   sum of o's values on the grid
 * @param lse sum of lse's values on the grid
 */
public record OutputChecksum(long o, long lse) implements Serializable {

    /** The grid's inverse step, 2^24. */
    public static final double SCALE = 0x1p24;

    public static final OutputChecksum ZERO = new OutputChecksum(0, 0);

    /** The checksum of {@code oCount} values of {@code o} and {@code lseCount} of {@code lse} from their positions. */
    public static OutputChecksum of(FloatBuffer o, int oCount, FloatBuffer lse, int lseCount) {
        return new OutputChecksum(sum(o, oCount), sum(lse, lseCount));
    }

    /** One value on the grid. */
    public static long onGrid(float x) {
        return (long) Math.rint(x * SCALE);
    }

    private static long sum(FloatBuffer b, int count) {
        long s = 0;
        int from = b.position();
        for (int i = 0; i < count; i++) {
            s += onGrid(b.get(from + i));
        }
        return s;
    }

    /** The checksum of both results together (of two partitions, say). */
    public OutputChecksum plus(OutputChecksum other) {
        return new OutputChecksum(o + other.o, lse + other.lse);
    }

    /** "o 1234.5678901 lse -98.7654321 (0x.. 0x..)": the sums and their exact bits. */
    public String describe() {
        return String.format(Locale.ROOT, "o %.7f lse %.7f (%016x %016x)", o / SCALE, lse / SCALE, o, lse);
    }
}
