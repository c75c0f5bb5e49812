package io.longnet.tensors;

import java.util.Arrays;
import java.util.Objects;

/**
 * One tensor of a safetensors file: its name, dtype, shape, and where its bytes lie, as offsets
 * {@code [begin, end)} relative to the start of the file's data buffer (byte {@code 8 + N}).
 *
 * <p>Row-oriented helpers treat the first dimension as rows; a scalar (shape {@code []}) is one row of
 * one element, and a 1-D tensor has rows of one element.
 */
public record TensorInfo(String name, DType dtype, long[] shape, long begin, long end) {

    public TensorInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
        // Records hand out their components: copy so that no caller can change a shape under a reader.
        shape = shape.clone();
    }

    /** A copy of the shape. */
    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Number of dimensions. */
    public int rank() {
        return shape.length;
    }

    /** Size of dimension {@code i}, without copying the shape. */
    public long dim(int i) {
        return shape[i];
    }

    /** Product of all dimensions (1 for a scalar). */
    public long elements() {
        return product(shape, 0);
    }

    /** Product of {@code shape[1..]}: the elements of one row. */
    public long rowElements() {
        return product(shape, 1);
    }

    /** {@code shape[0]}; 1 for a scalar. */
    public long rows() {
        return shape.length == 0 ? 1 : shape[0];
    }

    /** Byte length of the data, {@code end - begin}. */
    public long byteLength() {
        return end - begin;
    }

    /** Product of {@code shape[from..]}, failing (rather than wrapping) on overflow. */
    public static long product(long[] shape, int from) {
        long n = 1;
        for (int i = from; i < shape.length; i++) {
            n = Math.multiplyExact(n, shape[i]);
        }
        return n;
    }

    /** A Java array's shape as safetensors states it. */
    public static long[] dims(int[] shape) {
        long[] s = new long[shape.length];
        for (int i = 0; i < s.length; i++) {
            s[i] = shape[i];
        }
        return s;
    }

    /** Formats a shape or index as {@code [a, b, c]}. */
    public static String format(long[] dims) {
        return Arrays.toString(dims);
    }

    // The generated equals/hashCode/toString would compare and print the array by identity.
    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && name.equals(t.name) && dtype == t.dtype
                && Arrays.equals(shape, t.shape) && begin == t.begin && end == t.end;
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, dtype, Arrays.hashCode(shape), begin, end);
    }

    @Override
    public String toString() {
        return name + ": " + dtype + " " + format(shape) + " at [" + begin + ", " + end + ")";
    }
}
