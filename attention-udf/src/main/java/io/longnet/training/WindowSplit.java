package io.longnet.training;

import java.util.ArrayList;
import java.util.List;

/**
 * A stream of {@code tokens} tokens cut into windows of {@code length}, numbered from 0 (a last partial
 * window left out), of which the last {@code validation} are held out.
 *
 * @param tokens     tokens in the stream
 * @param length     tokens per window
 * @param count      whole windows
 * @param validation held-out windows: ids {@code count - validation .. count - 1}
 */
public record WindowSplit(long tokens, int length, long count, long validation) {

    /**
     * Windows of {@code length} of {@code tokens} tokens, {@code validationFraction} of them (rounded up, at
     * least one when above 0) held out, at least one kept to train on.
     */
    public static WindowSplit of(long tokens, int length, double validationFraction) {
        long count = tokens / length;
        if (count < 2) {
            throw new IllegalArgumentException("the token dataset holds " + tokens + " tokens: fewer than two windows"
                    + " of --seq-len " + length + " (one to train on, one to validate); lower --seq-len");
        }
        long held = (long) Math.ceil(validationFraction * count);
        long validation = validationFraction > 0 ? Math.max(1, Math.min(held, count - 1)) : 0;
        return new WindowSplit(tokens, length, count, validation);
    }

    /** Windows to train on: ids {@code 0..trainCount-1}. */
    public long trainCount() {
        return count - validation;
    }

    /** Held-out windows: ids {@code trainCount()..count-1}. */
    public List<Long> validationIds() {
        List<Long> ids = new ArrayList<>();
        for (long id = trainCount(); id < count; id++) {
            ids.add(id);
        }
        return ids;
    }
}
