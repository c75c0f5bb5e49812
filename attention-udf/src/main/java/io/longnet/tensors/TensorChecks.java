package io.longnet.tensors;

import java.nio.FloatBuffer;

/** Checks on tensor values read from data files, with messages that point at the bad element. */
public final class TensorChecks {

    private TensorChecks() {
    }

    /**
     * Requires every float of {@code values} from its position to its limit (position unchanged) to be
     * finite. The values are elements {@code firstElement, firstElement + 1, ...} (row-major) of a
     * tensor of the given shape, so that the message can give the index of the first bad one:
     * "file in.safetensors: tensor 'q' holds NaN at [123, 4, 17]".
     *
     * @throws TensorFormatException    at the first NaN or infinity
     * @throws IllegalArgumentException when the values do not lie within the shape
     */
    public static void requireFinite(String file, String tensor, FloatBuffer values, long firstElement, long[] shape) {
        long total;
        try {
            total = TensorInfo.product(shape, 0);
        } catch (ArithmeticException overflow) {
            throw new IllegalArgumentException("tensor '" + tensor + "': shape " + TensorInfo.format(shape)
                    + " has more elements than a long can count");
        }
        int from = values.position();
        int to = values.limit();
        if (firstElement < 0 || firstElement > total - (to - from)) {
            throw new IllegalArgumentException("tensor '" + tensor + "': elements [" + firstElement + ", "
                    + (firstElement + to - from) + ") are not within shape " + TensorInfo.format(shape));
        }
        // Absolute gets: a plain counted loop with no position updates, cheap next to the read itself.
        for (int i = from; i < to; i++) {
            float v = values.get(i);
            if (!Float.isFinite(v)) {
                throw nonFinite(file, tensor, v, firstElement + (i - from), shape);
            }
        }
    }

    /** The error for {@code value}, infinite or NaN, at flat element {@code element} of tensor {@code tensor}. */
    public static TensorFormatException nonFinite(String file, String tensor, float value, long element,
                                                  long[] shape) {
        return new TensorFormatException(file, tensor, "tensor '" + tensor + "' holds " + value + " at "
                + TensorInfo.format(unravel(element, shape)));
    }

    /** The row-major multi-dimensional index of a flat element index. */
    static long[] unravel(long flat, long[] shape) {
        long[] index = new long[shape.length];
        for (int d = shape.length - 1; d >= 0; d--) {
            index[d] = flat % shape[d];
            flat /= shape[d];
        }
        return index;
    }
}
