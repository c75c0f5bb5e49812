package io.longnet.training;

import io.longnet.model.LongNetConfig;
import io.longnet.model.LongNetModel;
import io.longnet.model.ModelWeights;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A model's parameters as one flat float64 vector: the tensors of {@link LongNetConfig#tensorShapes()}, in
 * that order (the weights file's order), each row-major, back to back. Training (the float64
 * {@link TrainableModel}, {@link AdamW}, {@link TrainingCheckpoint}) works on such vectors; a gradient has
 * the same layout. Converts from and to the float32 {@link ModelWeights} that inference uses.
 */
public final class ParameterLayout implements Serializable {

    private static final long serialVersionUID = 1L;

    private final List<String> names;
    private final int[][] shapes;
    private final int[] offsets;
    private final int size;
    private final HashMap<String, Integer> index;

    private ParameterLayout(List<String> names, int[][] shapes) {
        this.names = List.copyOf(names);
        this.shapes = shapes;
        this.offsets = new int[shapes.length];
        this.index = new HashMap<>();
        long total = 0;
        for (int i = 0; i < shapes.length; i++) {
            offsets[i] = (int) Math.min(total, Integer.MAX_VALUE);
            total += elements(shapes[i]);
            index.put(this.names.get(i), i);
        }
        if (total > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("the model has " + total + " parameters, more than one float64 "
                    + "vector can hold (about 2^31); training needs a smaller model");
        }
        this.size = (int) total;
    }

    /** The layout of a model of shape {@code config}. */
    public static ParameterLayout of(LongNetConfig config) {
        Map<String, int[]> shapes = config.tensorShapes();
        return new ParameterLayout(new ArrayList<>(shapes.keySet()), shapes.values().toArray(new int[0][]));
    }

    /** Total parameters (the tied embedding once). */
    public int size() {
        return size;
    }

    /** Tensor names, in vector order. */
    public List<String> names() {
        return names;
    }

    /**
     * Where tensor {@code name} starts in the vector.
     *
     * @throws IllegalArgumentException when the layout has no such tensor
     */
    public int offset(String name) {
        return offsets[indexOf(name)];
    }

    /** The shape of tensor {@code name} (a copy). */
    public int[] shape(String name) {
        return shapes[indexOf(name)].clone();
    }

    /** Elements of tensor {@code name}. */
    public int length(String name) {
        return (int) elements(shapes[indexOf(name)]);
    }

    /** Whether the layout has tensor {@code name}. */
    public boolean contains(String name) {
        return index.containsKey(name);
    }

    /**
     * The float32 weights as a new float64 vector (exact).
     *
     * @throws IllegalArgumentException when the weights lack a tensor of this layout, hold one of another
     *     shape, or hold one more
     */
    public double[] flatten(ModelWeights weights) {
        List<String> problems = weights.problems(shapeMap());
        // Non-finite values are the caller's business (they would train to NaN, but they flatten exactly).
        problems.removeIf(p -> p.contains("' holds "));
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("weights do not fit this parameter layout: "
                    + String.join("; ", problems.subList(0, Math.min(10, problems.size())))
                    + (problems.size() > 10 ? "; ..." : ""));
        }
        double[] params = new double[size];
        for (int t = 0; t < shapes.length; t++) {
            float[] data = weights.data(names.get(t));
            int off = offsets[t];
            for (int i = 0; i < data.length; i++) {
                params[off + i] = data[i];
            }
        }
        return params;
    }

    /**
     * New float32 weights from a float64 vector, each value rounded to the nearest float: for
     * {@link LongNetModel} (inference, scoring) and {@link ModelWeights#save}.
     *
     * @throws IllegalArgumentException when {@code params} is not of length {@link #size()}
     */
    public ModelWeights toWeights(double[] params) {
        checkLength("parameters", params);
        ModelWeights w = new ModelWeights();
        for (int t = 0; t < shapes.length; t++) {
            float[] data = new float[(int) elements(shapes[t])];
            int off = offsets[t];
            for (int i = 0; i < data.length; i++) {
                data[i] = (float) params[off + i];
            }
            w.put(names.get(t), shapes[t], data);
        }
        return w;
    }

    /** Throws unless {@code vector} has this layout's length; {@code what} names it in the message. */
    void checkLength(String what, double[] vector) {
        if (vector == null || vector.length != size) {
            throw new IllegalArgumentException(what + " have length " + (vector == null ? "null" : vector.length)
                    + ", the model's parameter layout " + size);
        }
    }

    /** Name to shape, in vector order. */
    private Map<String, int[]> shapeMap() {
        Map<String, int[]> m = new java.util.LinkedHashMap<>();
        for (int t = 0; t < shapes.length; t++) {
            m.put(names.get(t), shapes[t]);
        }
        return m;
    }

    private int indexOf(String name) {
        Integer i = index.get(name);
        if (i == null) {
            throw new IllegalArgumentException("no tensor '" + name + "' in this parameter layout ("
                    + names.size() + " tensors)");
        }
        return i;
    }

    private static long elements(int[] shape) {
        long n = 1;
        for (int s : shape) {
            n *= s;
        }
        return n;
    }

    /** Same tensor names and shapes in the same order. */
    @Override
    public boolean equals(Object o) {
        return o instanceof ParameterLayout p && names.equals(p.names) && Arrays.deepEquals(shapes, p.shapes);
    }

    @Override
    public int hashCode() {
        return 31 * names.hashCode() + Arrays.deepHashCode(shapes);
    }

    @Override
    public String toString() {
        return "ParameterLayout[" + names.size() + " tensors, " + size + " parameters]";
    }
}
