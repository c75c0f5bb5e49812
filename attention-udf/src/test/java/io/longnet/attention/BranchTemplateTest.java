package io.longnet.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class BranchTemplateTest {

    @Test
    void thePapersScalingConfigurationKeeps2048RowsPerSegment() {
        BranchTemplate t = new BranchTemplate(BranchTemplate.SCALING);
        assertTrue(t.symbolic());
        assertEquals(List.of(new Branch(2048, 1), new Branch(1 << 22, 2048), new Branch(1 << 30, 1 << 19)),
                t.resolve(1 << 22, 1 << 30));
        assertEquals(List.of(new Branch(2048, 1), new Branch(8192, 4)), t.resolve(8192, 8192),
                "N = L: the two branches coincide and are kept once");
        assertFalse(new BranchTemplate("16:1,32:2").symbolic());
        assertEquals(List.of(new Branch(16, 1), new Branch(32, 2)), new BranchTemplate("16:1, 32:2").resolve(1, 1));
    }

    @Test
    void badTemplatesAndLengthsSayWhatFits() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new BranchTemplate("2048:1,L:M/2"));
        assertEquals("branch 'L:M/2': expected segment:dilation, each a whole number, L, N, L/k or N/k, e.g. "
                + BranchTemplate.SCALING, e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new BranchTemplate(BranchTemplate.SCALING)
                .resolve(1024, 1 << 20));
        assertEquals("branch 'L:L/2048' with L = 1024, N = 1048576 gives L/2048 = 0: each must be 1 to 2147483647"
                + " (choose L and N of at least the divisors written)", e.getMessage());
    }
}
