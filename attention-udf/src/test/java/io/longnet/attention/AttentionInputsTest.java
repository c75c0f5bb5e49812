package io.longnet.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.FloatBuffer;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * One input check for each float32 class and its float64 twin: {@link CpuAttentionKernel} and {@link
 * DilatedAttentionGradients} reject the same bad arguments with the same message, floats for doubles.
 */
class AttentionInputsTest {

    private static final DilatedAttentionConfig C = DilatedAttentionConfig.of(Branch.parseList("4:1,8:2"), 2, 3,
            true);

    private static String error(Executable call) {
        return assertThrows(IllegalArgumentException.class, call).getMessage();
    }

    private static FloatBuffer floats(int n) {
        return FloatBuffer.allocate(n);
    }

    @Test
    void theTwinsRejectBadArgumentsAlike() {
        double[] x = new double[5 * 6];
        double[] l = new double[10];
        try (CpuAttentionKernel f32 = new CpuAttentionKernel(1);
             DilatedAttentionGradients f64 = new DilatedAttentionGradients(C)) {
            List<Branch> foreign = List.of(new Branch(16, 1));
            String branch = "branch 16:1 is not one of [4:1, 8:2] (or out of their order)";
            assertEquals(branch, error(() -> f32.forward(C, foreign, floats(30), floats(30), floats(30), 5,
                    floats(30), floats(10))));
            assertEquals(branch, error(() -> f64.forward(foreign, x, x, x, 5, x, l)));

            String length = "sequence length must be >= 1 (got 0)";
            assertEquals(length, error(() -> f32.forward(C, floats(30), floats(30), floats(30), 0, floats(30),
                    floats(10))));
            assertEquals(length, error(() -> f64.forward(x, x, x, 0, x, l)));

            assertEquals("v holds 29 floats, needs 30", error(() -> f32.forward(C, floats(30), floats(30),
                    floats(29), 5, floats(30), floats(10))));
            assertEquals("v holds 29 doubles, needs 30", error(() -> f64.forward(x, x, new double[29], 5, x, l)));
            assertEquals("lse is missing", error(() -> f32.forward(C, floats(30), floats(30), floats(30), 5,
                    floats(30), null)));
            assertEquals("lse is missing", error(() -> f64.forward(x, x, x, 5, x, null)));
        }
    }

    @Test
    void theTwinsCheckGatheredKeysAlike() {
        Branch b = new Branch(8, 2);
        double[] x = new double[4 * 6];
        double[] l = new double[8];
        try (CpuAttentionKernel f32 = new CpuAttentionKernel(1);
             DilatedAttentionGradients f64 = new DilatedAttentionGradients(C)) {
            // Rows 3..6 of the segment: head 0 (offset 0) selects rows 4 and 6, sparse rows 2 and 3.
            String reach = "head 0, branch 8:2: gathered 2 key rows, but the block's queries reach sparse row 3:"
                    + " gather the segment's rows up to at least the block's last";
            assertEquals(reach, error(() -> f32.attendGathered(C, b, 3, floats(24), 4,
                    List.of(floats(6), floats(6)), List.of(floats(6), floats(6)), floats(24), floats(8))));
            double[][] two = {new double[6], new double[6]};
            assertEquals(reach, error(() -> f64.forwardGathered(b, 3, x, 4, two, two, x, l)));

            String inside = "branch 8:2: a block of 4 positions starting 5 into a segment must lie inside the"
                    + " segment's 8 positions";
            assertEquals(inside, error(() -> f32.attendGathered(C, b, 5, floats(24), 4,
                    List.of(floats(12), floats(12)), List.of(floats(12), floats(12)), floats(24), floats(8))));
            double[][] four = {new double[12], new double[12]};
            assertEquals(inside, error(() -> f64.forwardGathered(b, 5, x, 4, four, four, x, l)));

            assertEquals("head 1: gathered keys hold 12 floats and values 9, need equal multiples of d = 3",
                    error(() -> f32.attendGathered(C, b, 3, floats(24), 4, List.of(floats(12), floats(12)),
                            List.of(floats(12), floats(9)), floats(24), floats(8))));
            assertEquals("head 1: gathered keys hold 12 doubles and values 9, need equal multiples of d = 3",
                    error(() -> f64.forwardGathered(b, 3, x, 4, four,
                            new double[][] {new double[12], new double[9]}, x, l)));

            assertEquals("gathered keys/values for 1/2 heads, config has 2",
                    error(() -> f32.attendGathered(C, b, 3, floats(24), 4, List.of(floats(12)),
                            List.of(floats(12), floats(12)), floats(24), floats(8))));
            assertEquals("gathered keys/values for 1/2 heads, config has 2",
                    error(() -> f64.forwardGathered(b, 3, x, 4, new double[][] {new double[12]}, four, x, l)));
        }
    }
}
