package io.longnet.attention;

import io.longnet.attention.SegmentTileAttention.Rows;
import java.util.List;
import java.util.function.Supplier;

/**
 * How one branch's attention splits into work items, shared by {@link CpuAttentionKernel} and its float64
 * twin {@link DilatedAttentionGradients}: an item is a tile of up to {@code tileRows} query rows of one
 * head's sparsified segment (or, {@link #byRegion}, all of a region's tiles, branch after branch), run on a
 * {@link WorkPool} with a tile per worker. Each item writes only its own rows, so results do not depend on
 * the number of threads.
 */
final class QueryTiles {

    /** The fewest of {@link #byRegion}'s items per worker for which it is chosen. */
    static final int REGION_ITEMS_PER_THREAD = 4;

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
        int w = branch.segmentLength();
        int tileCount = tileCount(branch.selectedRows(Math.min(w, n), 0), tileRows);
        pool.run(branch.segments(n) * heads * tileCount, tiles, (item, tile) -> {
            int tileIndex = (int) (item % tileCount);
            int head = (int) (item / tileCount % heads);
            int start = (int) (item / tileCount / heads) * w;
            segment(tile, config, branch, head, n, start, tileRows, tileIndex, tileIndex + 1, body);
        });
    }

    /**
     * Whether {@link #byRegion} suits these branches over {@code n} positions on {@code threads} workers:
     * there are branches, every branch's segments nest in the longest one's, and there are at least
     * {@link #REGION_ITEMS_PER_THREAD} regions and heads per worker (a region's item is a few of the
     * branch-by-branch items long, and fewer items would leave workers idle). A partition's forward may have
     * no local branch at all.
     */
    static boolean byRegionFits(List<Branch> branches, int n, int heads, int threads) {
        if (branches.isEmpty()) {
            return false;
        }
        int longest = longest(branches);
        for (Branch b : branches) {
            if (longest % b.segmentLength() != 0) {
                return false;
            }
        }
        return (long) (n + longest - 1) / longest * heads >= (long) REGION_ITEMS_PER_THREAD * threads;
    }

    /**
     * {@link #inPlace} for all of {@code branches} at once, their segments nested in the longest one's
     * ({@link #byRegionFits}): an item is a region of the longest segment length and a head, whose rows it attends branch after
     * branch in the list's order, so each row merges the branches in that order as branch-by-branch runs do
     * (the same bits), while the region's rows are still in the caches (run branch by branch, each branch
     * read q, k, v and o from memory again). Consecutive items are a region's heads, which share its rows'
     * cache lines.
     */
    static <T> void byRegion(WorkPool pool, Supplier<T> tiles, DilatedAttentionConfig config, List<Branch> branches,
                             int n, int tileRows, Body<T> body) {
        int heads = config.heads();
        int longest = longest(branches);
        pool.run((long) (n + longest - 1) / longest * heads, tiles, (item, tile) -> {
            int head = (int) (item % heads);
            int region = (int) (item / heads) * longest;
            for (Branch branch : branches) {
                for (int start = region; start < Math.min(n, region + longest); start += branch.segmentLength()) {
                    segment(tile, config, branch, head, n, start, tileRows, 0, Integer.MAX_VALUE, body);
                }
            }
        });
    }

    /** Query tiles {@code [tileFrom, tileTo)} of {@code head}'s rows in {@code branch}'s segment at {@code start}. */
    private static <T> void segment(T tile, DilatedAttentionConfig config, Branch branch, int head, int n, int start,
                                    int tileRows, int tileFrom, int tileTo, Body<T> body) {
        int heads = config.heads();
        int d = config.headDim();
        int r = branch.dilation();
        DilatedSelection sel = DilatedSelection.of(0, Math.min(branch.segmentLength(), n - start),
                config.offset(branch, head), r);
        Rows rows = new Rows(((start + sel.firstRow()) * heads + head) * d, r * heads * d);
        for (int t = tileFrom; t < tileTo && t * tileRows < sel.count(); t++) {
            int i0 = t * tileRows;
            body.attend(tile, head, rows, sel.count(), i0, Math.min(sel.count(), i0 + tileRows), 0);
        }
    }

    private static int longest(List<Branch> branches) {
        int longest = 0;
        for (Branch b : branches) {
            longest = Math.max(longest, b.segmentLength());
        }
        return longest;
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
