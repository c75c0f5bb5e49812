package io.longnet.spark;

import java.io.Serializable;

/**
 * What partition {@code source} sends for a segment of spanning branch number {@code branch} (its index
 * in the plan's spanning list): per head, its selected key and value rows in sparse order
 * ({@code rows * d} floats). Only these cross the network: {@code H * w/r * d} keys and as many values per
 * receiving partition, whatever N is.
 */
public record ExchangePart(int branch, int source, float[][] keys, float[][] values) implements Serializable {

    /** Bytes of payload, for the plan's summary. */
    public long payloadBytes() {
        long floats = 0;
        for (int h = 0; h < keys.length; h++) {
            floats += keys[h].length + values[h].length;
        }
        return floats * Float.BYTES;
    }
}
