package io.longnet.model;

import io.longnet.tensors.DType;
import io.longnet.tensors.SafetensorsFile;
import io.longnet.tensors.SafetensorsWriter;
import io.longnet.tensors.TensorFormatException;
import io.longnet.tensors.TensorInfo;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Named float32 tensors with their shapes: a model's weights. Loads from and saves to local safetensors
 * files (F32 written; F32, F16 and BF16 read); other sources (the datasets module's Hadoop reader) fill
 * one with {@link #put}. Checked against a model's expected tensors by {@link #problems}.
 *
 * <p>Arrays are held, not copied: a model built on these weights reads the same arrays, so training can
 * update values in place. Not thread-safe for concurrent modification.
 */
public final class ModelWeights implements java.io.Serializable {

    /** One tensor: its shape and its values, row-major. */
    public record Tensor(int[] shape, float[] data) implements java.io.Serializable {

        public Tensor {
            Objects.requireNonNull(shape, "shape");
            Objects.requireNonNull(data, "data");
            shape = shape.clone();
            long n = 1;
            for (int s : shape) {
                if (s < 0) {
                    throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has a negative dimension");
                }
                n *= s;
            }
            if (n != data.length) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " holds " + n
                        + " elements, data has " + data.length);
            }
        }

        /** A copy of the shape. */
        @Override
        public int[] shape() {
            return shape.clone();
        }

        // The generated members would compare and print the arrays by identity.
        @Override
        public boolean equals(Object o) {
            return o instanceof Tensor t && Arrays.equals(shape, t.shape) && Arrays.equals(data, t.data);
        }

        @Override
        public int hashCode() {
            return 31 * Arrays.hashCode(shape) + Arrays.hashCode(data);
        }

        @Override
        public String toString() {
            return "Tensor" + Arrays.toString(shape);
        }
    }

    private final Map<String, Tensor> tensors = new LinkedHashMap<>();

    /** Adds or replaces tensor {@code name}; the array is held, not copied. */
    public ModelWeights put(String name, int[] shape, float[] data) {
        Objects.requireNonNull(name, "name");
        if (name.equals(SafetensorsFile.METADATA_KEY)) {
            throw new IllegalArgumentException("tensor name '" + name + "' is reserved by safetensors");
        }
        tensors.put(name, new Tensor(shape, data));
        return this;
    }

    /**
     * The tensor {@code name}.
     *
     * @throws IllegalArgumentException when there is none
     */
    public Tensor tensor(String name) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new IllegalArgumentException("no tensor '" + name + "' (" + tensors.size() + " tensors held)");
        }
        return t;
    }

    /** The values of tensor {@code name} (the held array, not a copy). */
    public float[] data(String name) {
        return tensor(name).data();
    }

    /** The shape of tensor {@code name}. */
    public int[] shape(String name) {
        return tensor(name).shape();
    }

    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /** Names, in insertion (file) order. */
    public Set<String> names() {
        return Collections.unmodifiableSet(tensors.keySet());
    }

    public int size() {
        return tensors.size();
    }

    /** A deep copy. */
    public ModelWeights copy() {
        ModelWeights c = new ModelWeights();
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            c.put(e.getKey(), e.getValue().shape(), e.getValue().data().clone());
        }
        return c;
    }

    /** True when both hold the same names with the same shapes and bit-identical values. */
    public boolean sameAs(ModelWeights other) {
        return tensors.equals(other.tensors);
    }

    /**
     * Reads every tensor of a local safetensors file.
     *
     * @throws ModelFormatException when the file is malformed or holds a dtype other than F32, F16, BF16;
     *     messages start {@code "model weights <file>: "}
     */
    public static ModelWeights load(Path file) throws IOException {
        String source = "model weights " + file;
        ModelWeights w = new ModelWeights();
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            for (TensorInfo t : f.tensors().values()) {
                if (t.dtype() == DType.F64) {
                    throw new ModelFormatException(source, "tensor '" + t.name() + "' has dtype " + t.dtype()
                            + "; model weights must be F32, F16 or BF16 (the half types are widened to float)");
                }
            }
            for (TensorInfo t : f.tensors().values()) {
                long[] shape = t.shape();
                int[] dims = new int[shape.length];
                for (int i = 0; i < dims.length; i++) {
                    dims[i] = (int) shape[i]; // each dimension fits: readFloats refuses more than an array holds
                }
                float[] data = f.readFloats(t.name());
                w.tensors.put(t.name(), new Tensor(dims, data));
            }
        } catch (TensorFormatException e) {
            throw new ModelFormatException(source, e.detail(), e);
        }
        return w;
    }

    /**
     * Writes all tensors as F32 to the local safetensors file {@code file}, in insertion order (straight into
     * it: a caller wanting the file complete or absent writes through io.longnet.storage.AtomicOutput).
     */
    public void save(Path file) throws IOException {
        List<SafetensorsWriter.Spec> specs = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            specs.add(new SafetensorsWriter.Spec(e.getKey(), DType.F32, TensorInfo.dims(e.getValue().shape)));
        }
        try (SafetensorsWriter w = SafetensorsWriter.create(file, specs, Map.of("format", "pt"))) {
            for (Tensor t : tensors.values()) {
                w.writeFloats(FloatBuffer.wrap(t.data));
            }
        }
    }

    /**
     * What is wrong with these weights for a model expecting {@code expected} (name to shape): missing
     * tensors (in expected order), tensors of another shape, non-finite values, then unexpected tensors.
     * Empty when they fit.
     */
    public List<String> problems(Map<String, int[]> expected) {
        List<String> out = new ArrayList<>();
        for (Map.Entry<String, int[]> e : expected.entrySet()) {
            Tensor t = tensors.get(e.getKey());
            if (t == null) {
                out.add("missing tensor '" + e.getKey() + "'");
            } else if (!Arrays.equals(t.shape, e.getValue())) {
                out.add("tensor '" + e.getKey() + "' has shape " + Arrays.toString(t.shape) + ", expected "
                        + Arrays.toString(e.getValue()));
            } else {
                String bad = nonFinite(e.getKey(), t);
                if (bad != null) {
                    out.add(bad);
                }
            }
        }
        for (String name : tensors.keySet()) {
            if (!expected.containsKey(name)) {
                out.add("unexpected tensor '" + name + "'");
            }
        }
        return out;
    }

    /**
     * Throws when {@link #problems} finds any: one problem as it is, several as a count and a list
     * (the first ten).
     *
     * @param source what the weights are, e.g. {@code "model weights /m/model.safetensors"}
     * @param hint   appended when not empty, e.g. a likely fix
     */
    public void validate(String source, Map<String, int[]> expected, String hint) {
        List<String> problems = problems(expected);
        if (problems.isEmpty()) {
            return;
        }
        String suffix = hint == null || hint.isEmpty() ? "" : " (" + hint + ")";
        if (problems.size() == 1) {
            throw new ModelFormatException(source, problems.get(0) + suffix);
        }
        int shown = Math.min(10, problems.size());
        String list = String.join("; ", problems.subList(0, shown));
        if (shown < problems.size()) {
            list += "; ...";
        }
        throw new ModelFormatException(source, problems.size() + " problems: " + list + suffix);
    }

    private static String nonFinite(String name, Tensor t) {
        float[] d = t.data;
        for (int i = 0; i < d.length; i++) {
            if (!Float.isFinite(d[i])) {
                // Index as [i, j, ...] so that a user can find it in their framework.
                int[] index = new int[t.shape.length];
                int rest = i;
                for (int k = index.length - 1; k >= 0; k--) {
                    index[k] = rest % t.shape[k];
                    rest /= t.shape[k];
                }
                return "tensor '" + name + "' holds " + d[i] + " at " + Arrays.toString(index);
            }
        }
        return null;
    }
}
