package io.longnet.training;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Which training windows step {@code s} takes: each epoch is a seeded shuffle of the windows cut into
 * whole batches (the few left over sit out that epoch), so no batch repeats a window, and step {@code s}'s
 * batch is a function of the seed and {@code s} alone, which is what lets {@code --resume} continue
 * exactly.
 */
public record BatchOrder(long windows, int batch, long seed) {

    public BatchOrder {
        if (batch < 1) {
            throw new IllegalArgumentException("--batch must be >= 1 (got " + batch + ")");
        }
        if (batch > windows) {
            throw new IllegalArgumentException("--batch " + batch + " exceeds the " + windows + " training windows"
                    + " of the dataset: lower --batch or --seq-len");
        }
        if (windows > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(windows + " training windows: more than one epoch order can hold;"
                    + " raise --seq-len");
        }
    }

    public long batchesPerEpoch() {
        return windows / batch;
    }

    /** The window ids of step {@code step} (0-based), in batch order. */
    public List<Long> ids(long step) {
        long epoch = step / batchesPerEpoch();
        int first = (int) (step % batchesPerEpoch()) * batch;
        int[] order = permutation(epoch);
        List<Long> ids = new ArrayList<>(batch);
        for (int i = 0; i < batch; i++) {
            ids.add((long) order[first + i]);
        }
        return ids;
    }

    /** Fisher-Yates with a generator seeded by (seed, epoch). */
    private int[] permutation(long epoch) {
        int n = (int) windows;
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        SplittableRandom random = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + epoch);
        for (int i = n - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        return order;
    }
}
