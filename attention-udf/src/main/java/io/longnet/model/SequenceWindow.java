package io.longnet.model;

import java.io.Serializable;

/**
 * Where a run of tokens lies in its sequence: positions {@code [start, start + length)} of a sequence of
 * {@code total}, and the token after the run ({@code -1} when the run ends the sequence). A decoder computes
 * such a run on its own, without the rest of the sequence, exactly when no segment of any branch crosses
 * its edges (docs/ARCHITECTURE.md §4, a partition whose branches are all local): xPos takes the absolute
 * positions, and the token after the run is the last position's target.
 */
public record SequenceWindow(long start, long total, int nextToken) implements Serializable {

    public SequenceWindow {
        if (start < 0 || total < 1 || start >= total || nextToken < -1) {
            throw new IllegalArgumentException("window at " + start + " of a sequence of " + total
                    + " positions, next token " + nextToken + ": expected 0 <= start < total and a token id or -1");
        }
    }

    /** A whole sequence of {@code n} positions. */
    public static SequenceWindow whole(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("an empty sequence: a sequence holds at least one token");
        }
        return new SequenceWindow(0, n, -1);
    }

    /** Positions with a known next token in a run of {@code length}: all, or all but the sequence's last. */
    public int scored(int length) {
        return nextToken < 0 ? length - 1 : length;
    }

    /**
     * Checks that a run of {@code length} tokens fits this window and is computable alone under
     * {@code config}: it starts and, unless it ends the sequence, ends on a multiple of every segment length.
     *
     * @throws IllegalArgumentException naming what does not fit
     */
    public void check(int length, LongNetConfig config) {
        long end = start + length;
        if (length < 1 || end > total || (end == total) != (nextToken < 0)) {
            throw new IllegalArgumentException("a run of " + length + " tokens at " + start + " does not fit a sequence"
                    + " of " + total + " with next token " + nextToken + " (-1 exactly when the run ends the sequence)");
        }
        if (start == 0 && end == total) {
            return;
        }
        long align = LongNetModel.xposWindow(config);
        if (start % align != 0 || (end != total && end % align != 0)) {
            throw new IllegalArgumentException("positions [" + start + ", " + end + ") cut a segment of the branches "
                    + config.branches() + ": a run computed alone must start and end on multiples of " + align);
        }
    }
}
