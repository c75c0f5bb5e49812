package io.longnet.spark.training;

import org.apache.spark.api.java.JavaPairRDD;
import scala.Tuple2;

/**
 * Sums contributions keyed {@code 0..count-1} as a binary tree of shuffles (a treeAggregate whose shape
 * is fixed): level by level, keys {@code 2i} and {@code 2i+1} become key {@code i}. Every sum adds exactly
 * two values, and two-value floating-point addition is commutative, so the result is bit-identical
 * whatever order tasks finish in. Spark's own {@code treeAggregate} and {@code reduce} fold results in
 * arrival order, which would make training steps, and so {@code --resume}, irreproducible.
 */
public final class PairwiseTreeSum {

    private PairwiseTreeSum() {
    }

    /** The sum of {@code parts} ({@code count} of them, keys {@code 0..count-1}, each key once). */
    public static GradientSum sum(JavaPairRDD<Integer, GradientSum> parts, int count, String name) {
        if (count < 1) {
            throw new IllegalArgumentException("nothing to sum");
        }
        JavaPairRDD<Integer, GradientSum> level = parts;
        for (int width = count; width > 1; width = (width + 1) / 2) {
            int next = (width + 1) / 2;
            level = level.mapToPair(t -> new Tuple2<>(t._1() / 2, t._2()))
                    .reduceByKey(GradientSum::plus, Math.max(1, next / 2))
                    .setName(name + " sum level " + next);
        }
        java.util.List<GradientSum> root = level.values().collect();
        if (root.size() != 1) {
            throw new IllegalStateException("expected one sum, got " + root.size());
        }
        return root.get(0);
    }
}
