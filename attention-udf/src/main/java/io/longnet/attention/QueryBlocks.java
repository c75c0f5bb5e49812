package io.longnet.attention;

import io.longnet.attention.SegmentTileAttention.Rows;
import java.util.function.Supplier;

/**
 * How one branch's attention splits into work items, shared by {@link CpuAttentionKernel} and its float64
 * twin {@link DilatedAttentionGradients}: an item is a block of up to {@code blockRows} query rows of one
 * head's sparsified segment, run on a {@link WorkPool} with a tile per worker. Each item writes only its
 * own rows, so results do not depend on the number of threads.
 */
final class QueryBlocks {

    private QueryBlocks() {
    }

    /** What an item does: attend query rows {@code [i0, i1)} of head {@code head}, laid out by {@code rows}. */
    interface Body<T> {
        void attend(T tile, int head, Rows rows, int count, int i0, int i1, int queryShift);
    }

    /**
     * Runs the query blocks of {@code branch} over {@code n} positions whose keys are in place (the
     * segment's own rows: {@code count} of them, no shift).
     */
    static <T> void inPlace(WorkPool pool, Supplier<T> tiles, DilatedAttentionConfig config, Branch branch,
                            int n, int blockRows, Body<T> body) {
        int heads = config.heads();
        int d = config.headDim();
        int w = branch.segmentLength();
        int r = branch.dilation();
        int blocks = blocks(branch.selectedRows(Math.min(w, n), 0), blockRows);
        int rowStride = r * heads * d;
        pool.run(branch.segments(n) * heads * blocks, tiles, (item, tile) -> {
            int block = (int) (item % blocks);
            int head = (int) (item / blocks % heads);
            int start = (int) (item / blocks / heads) * w;
            DilatedSelection sel = DilatedSelection.of(0, Math.min(w, n - start), config.offset(branch, head), r);
            int i0 = block * blockRows;
            if (i0 < sel.count()) {
                Rows rows = new Rows(((start + sel.firstRow()) * heads + head) * d, rowStride);
                body.attend(tile, head, rows, sel.count(), i0, Math.min(sel.count(), i0 + blockRows), 0);
            }
        });
    }

    /**
     * Runs the query blocks of a block of positions inside one segment of spanning {@code branch}, each
     * head's rows selected by {@code sel} (as {@link AttentionInputs#requireGathered} returns them); an
     * item's query rows see gathered keys from sparse row {@code sel[head].firstIndex()} on.
     */
    static <T> void gathered(WorkPool pool, Supplier<T> tiles, DilatedAttentionConfig config, Branch branch,
                             DilatedSelection[] sel, int blockRows, Body<T> body) {
        int heads = config.heads();
        int d = config.headDim();
        int maxCount = 0;
        for (DilatedSelection s : sel) {
            maxCount = Math.max(maxCount, s.count());
        }
        int blocks = blocks(maxCount, blockRows);
        int rowStride = branch.dilation() * heads * d;
        pool.run((long) heads * blocks, tiles, (item, tile) -> {
            int head = (int) (item / blocks);
            int i0 = (int) (item % blocks) * blockRows;
            DilatedSelection s = sel[head];
            if (i0 < s.count()) {
                Rows rows = new Rows((s.firstRow() * heads + head) * d, rowStride);
                body.attend(tile, head, rows, s.count(), i0, Math.min(s.count(), i0 + blockRows), s.firstIndex());
            }
        });
    }

    private static int blocks(int rows, int blockRows) {
        return (rows + blockRows - 1) / blockRows;
    }
}
