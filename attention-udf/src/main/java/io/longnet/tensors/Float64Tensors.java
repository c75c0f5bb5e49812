package io.longnet.tensors;

import java.io.IOException;
import java.nio.DoubleBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * F64 tensors written from and read into slices of flat {@code double[]} arrays (training checkpoints:
 * no per-tensor copies of a model-sized vector), through the one safetensors reader and writer.
 */
public final class Float64Tensors {

    private Float64Tensors() {
    }

    /**
     * A float64 tensor {@code name} of {@code shape} stored in {@code array[offset, offset + elements)}: what
     * {@link #write} writes and where {@link #read} puts what it reads.
     */
    public record Slice(String name, int[] shape, double[] array, int offset) {

        public Slice {
            shape = shape.clone();
            long n = TensorInfo.product(TensorInfo.dims(shape), 0);
            if (offset < 0 || offset + n > array.length) {
                throw new IllegalArgumentException("tensor '" + name + "' of shape " + Arrays.toString(shape)
                        + " at offset " + offset + " does not fit an array of " + array.length);
            }
        }

        /** A copy of the shape. */
        @Override
        public int[] shape() {
            return shape.clone();
        }

        int count() {
            return (int) TensorInfo.product(longShape(), 0);
        }

        long[] longShape() {
            return TensorInfo.dims(shape);
        }
    }


    /** Writes {@code tensors} as F64 to the local {@code file}, in list order. */
    public static void write(Path file, List<Slice> tensors, Map<String, String> metadata) throws IOException {
        List<SafetensorsWriter.Spec> specs = new ArrayList<>();
        for (Slice s : tensors) {
            specs.add(new SafetensorsWriter.Spec(s.name(), DType.F64, s.longShape()));
        }
        try (SafetensorsWriter w = SafetensorsWriter.create(file, specs, metadata)) {
            for (Slice s : tensors) {
                w.writeDoubles(DoubleBuffer.wrap(s.array(), s.offset(), s.count()));
            }
        }
    }

    /**
     * Reads the F64 tensors of the local {@code file} into {@code into}: the file must hold exactly those
     * tensors (any order), each F64 of the slice's shape.
     *
     * @return the file's {@code __metadata__} (empty when it has none)
     * @throws TensorFormatException when the file is malformed, holds another dtype, or misses, adds or
     *     misshapes a tensor
     */
    public static Map<String, String> read(Path file, List<Slice> into) throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            String name = f.file();
            for (TensorInfo t : f.tensors().values()) {
                if (t.dtype() != DType.F64) {
                    throw new TensorFormatException(name, t.name(), "tensor '" + t.name() + "' has dtype "
                            + t.dtype() + "; expected F64 (float64) tensors");
                }
            }
            Map<String, Slice> wanted = new LinkedHashMap<>();
            for (Slice s : into) {
                wanted.put(s.name(), s);
                TensorInfo t = f.tensors().get(s.name());
                if (t == null) {
                    throw new TensorFormatException(name, s.name(), "missing tensor '" + s.name() + "'");
                }
                if (!Arrays.equals(t.shape(), s.longShape())) {
                    throw new TensorFormatException(name, s.name(), "tensor '" + s.name() + "' has shape "
                            + TensorInfo.format(t.shape()) + ", expected " + Arrays.toString(s.shape));
                }
            }
            for (String t : f.tensors().keySet()) {
                if (!wanted.containsKey(t)) {
                    throw new TensorFormatException(name, t, "unexpected tensor '" + t + "'");
                }
            }
            for (Slice s : into) {
                f.readDoubles(s.name(), s.array(), s.offset());
            }
            return f.metadata();
        }
    }
}
