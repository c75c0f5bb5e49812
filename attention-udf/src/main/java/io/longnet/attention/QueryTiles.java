package io.longnet.attention;

import io.longnet.attention.SegmentTileAttention.Rows;
import java.util.function.Supplier;

/**
 * How one branch's attention splits into work items, shared by {@link CpuAttentionKernel} and its float64
 * twin {@link DilatedAttentionGradients}: an item is a tile of up to {@code tileRows} query rows of one
 * head's sparsified segment, run on a {@link WorkPool} with a tile per worker. Each item writes only its
 * own rows, so results do not depend on the number of threads.
 */
final class QueryTiles {

    private QueryTiles() {
    }

    /** What an item does: attend query rows {@code [i0, i1)} of head {@code head}, laid out by {@code rows}. */
    interface Body<T> {
        void attend(T tile, int head, Rows rows, int count, int i0, int i1, int queryShift);
    }

    /**
     * Runs the query tiles of {@code branch} over {@code n} positions whose keys are in place (the
     * segment's own rows: {@code count} of them, no shift).
     */
    static <T> void inPlace(WorkPool pool, Supplier<T> tiles, DilatedAttentionConfig config, Branch branch,
                            int n, int tileRows, Body<T> body) {
        int heads = config.heads();
        int d = config.headDim();
        int w = branch.segmentLength();
        int r = branch.dilation();
        int tileCount = tileCount(branch.selectedRows(Math.min(w, n), 0), tileRows);
        int rowStride = r * heads * d;
        pool.run(branch.segments(n) * heads * tileCount, tiles, (item, tile) -> {
            int tileIndex = (int) (item % tileCount);
            int head = (int) (item / tileCount % heads);
            int start = (int) (item / tileCount / heads) * w;
            DilatedSelection sel = DilatedSelection.of(0, Math.min(w, n - start), config.offset(branch, head), r);
            int i0 = tileIndex * tileRows;
            if (i0 < sel.count()) {
                Rows rows = new Rows(((start + sel.firstRow()) * heads + head) * d, rowStride);
                body.attend(tile, head, rows, sel.count(), i0, Math.min(sel.count(), i0 + tileRows), 0);
            }
        });
    }

    /**
     * Runs the query tiles of a partition's positions inside one segment of spanning {@code branch}, each
     * head's rows selected by {@code sel} (as {@link AttentionInputs#requireGathered} returns them); an
     * item's query rows see gathered keys from sparse row {@code sel[head].firstIndex()} on.
     */
    static <T> void gathered(WorkPool pool, Supplier<T> tiles, DilatedAttentionConfig config, Branch branch,
                             DilatedSelection[] sel, int tileRows, Body<T> body) {
        int heads = config.heads();
        int d = config.headDim();
        int maxCount = 0;
        for (DilatedSelection s : sel) {
            maxCount = Math.max(maxCount, s.count());
        }
        int tileCount = tileCount(maxCount, tileRows);
        int rowStride = branch.dilation() * heads * d;
        pool.run((long) heads * tileCount, tiles, (item, tile) -> {
            int head = (int) (item / tileCount);
            int i0 = (int) (item % tileCount) * tileRows;
            DilatedSelection s = sel[head];
            if (i0 < s.count()) {
                Rows rows = new Rows((s.firstRow() * heads + head) * d, rowStride);
                body.attend(tile, head, rows, s.count(), i0, Math.min(s.count(), i0 + tileRows), s.firstIndex());
            }
        });
    }

    private static int tileCount(int rows, int tileRows) {
        return (rows + tileRows - 1) / tileRows;
    }
}
