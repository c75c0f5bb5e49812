package io.longnet.spark.training;

import java.io.Serializable;

/**
 * What partition {@code source} sends for a segment of spanning branch number {@code branch} (its index in
 * the plan's spanning list): per head, its selected key and value rows in sparse order ({@code rows * d}
 * doubles). The float64 counterpart of {@link io.longnet.spark.ExchangePart}.
 */
public record TrainingExchangePart(int branch, int source, double[][] keys, double[][] values)
        implements Serializable {
}
