package io.longnet.gpu;

import io.longnet.attention.Branch;
import java.util.List;

/**
 * Grid, block and dynamic shared memory of one branch launch: grid {@code (segments, heads, query
 * blocks)}, as the kernels expect (dilated_params.h). Pure arithmetic, tested without a GPU.
 */
public record LaunchGeometry(int gridX, int gridY, int gridZ, int threads, int sharedBytes) {

    /** Head widths with a kernel instantiation. */
    public static final List<Integer> HEAD_WIDTHS = List.of(32, 64, 128);
    private static final int MAX_GRID_YZ = 65_535;

    /** Launch of a kernel of {@code shape} for {@code rows} selected query rows per segment of {@code segments}. */
    public static LaunchGeometry of(long segments, int heads, int rows, KernelShape shape) {
        long blocks = Math.max(1, (rows + shape.tileRows() - 1) / shape.tileRows());
        if (segments > Integer.MAX_VALUE || heads > MAX_GRID_YZ || blocks > MAX_GRID_YZ) {
            throw new IllegalArgumentException("launch too large: " + segments + " segments x " + heads
                    + " heads x " + blocks + " query blocks");
        }
        return new LaunchGeometry((int) Math.max(1, segments), heads, (int) blocks, shape.threads(),
                shape.sharedBytes());
    }

    /** A branch's segments of a sequence of {@code n} positions, attended in place. */
    public static LaunchGeometry local(Branch b, int n, int heads, KernelShape shape) {
        return of(b.segments(n), heads, b.selectedRows(Math.min(b.segmentLength(), n), 0), shape);
    }

    /** Checks that a kernel exists for head width {@code d}. */
    public static void requireHeadWidth(int d) {
        if (!HEAD_WIDTHS.contains(d)) {
            throw new IllegalArgumentException("head width d = " + d + " has no GPU kernel (have " + HEAD_WIDTHS
                    + "); use --backend cpu");
        }
    }
}
