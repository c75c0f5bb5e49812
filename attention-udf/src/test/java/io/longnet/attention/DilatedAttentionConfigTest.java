package io.longnet.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class DilatedAttentionConfigTest {

    private static String rejection(String branches, int heads, int d) {
        return assertThrows(IllegalArgumentException.class,
                () -> DilatedAttentionConfig.of(branches.isEmpty() ? List.of() : Branch.parseList(branches),
                        heads, d, false)).getMessage();
    }

    @ParameterizedTest(name = "{0} H={1} d={2}")
    @CsvSource(delimiter = '|', value = {
        "''                | 4 | 32 | no branches: give at least one segment:dilation pair, e.g. 2048:1",
        "2048:1,16384:0    | 4 | 32 | branch 16384:0: dilation must be >= 1",
        "2048:1,4:-2       | 4 | 32 | branch 4:-2: dilation must be >= 1",
        "0:1               | 4 | 32 | branch 0:1: segment length must be >= 1",
        "2048:1,4:8        | 4 | 32 | branch 4:8: dilation 8 exceeds segment length 4 (need 1 <= r <= w)",
        "2048:1,4096:2,2048:1 | 4 | 32 | branch 2048:1 is given twice",
        "4096:2,8192:4     | 4 | 32 | no branch has dilation 1, so some positions would have no output: add one, e.g. 4096:1",
        "2048:1            | 0 | 32 | heads must be >= 1 (got 0)",
        "2048:1            | 4 | 0  | head width d must be >= 1 (got 0)",
    })
    void rejectsInvalidConfigsWithAnActionableMessage(String branches, int heads, int d, String message) {
        assertEquals(message, rejection(branches, heads, d));
    }

    @Test
    void rejectsMissingOffsetMode() {
        assertEquals("head offset mode must be given (default: PAPER)",
                assertThrows(IllegalArgumentException.class, () -> new DilatedAttentionConfig(
                        List.of(new Branch(8, 1)), 1, 1, false, null)).getMessage());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "2048        | branch '2048': expected segment:dilation, e.g. 2048:1",
        "2048:1:2    | branch '2048:1:2': expected segment:dilation, e.g. 2048:1",
        "a:1         | branch 'a:1': segment and dilation must be whole numbers, e.g. 2048:1",
        "99999999999:1 | branch '99999999999:1': 99999999999 is too large (at most 2147483647)",
        "2048:-99999999999 | branch '2048:-99999999999': -99999999999: segment and dilation must be >= 1",
        "2048:1,,4096:2 | branches '2048:1,,4096:2': empty entry; expected e.g. 2048:1,4096:2",
    })
    void rejectsUnparsableBranchLists(String text, String message) {
        assertEquals(message, assertThrows(IllegalArgumentException.class,
                () -> Branch.parseList(text)).getMessage());
    }

    @Test
    void parsesThePapersConfig() {
        DilatedAttentionConfig c = DilatedAttentionConfig.of(
                Branch.parseList("2048:1, 4096:2,8192:4,16384:6,32768:12"), 12, 64, true);
        assertEquals(List.of(new Branch(2048, 1), new Branch(4096, 2), new Branch(8192, 4),
                new Branch(16384, 6), new Branch(32768, 12)), c.branches());
        assertEquals(32768, c.maxSegmentLength());
        assertEquals(HeadOffset.PAPER, c.headOffset());
    }

    @Test
    void headOffsetsFollowTheirConventions() {
        // Paper: s_j = j mod r. torchscale groups: 12 heads, r = 5 -> groups of ceil(12/5) = 3.
        int[] paper = new int[12];
        int[] groups = new int[12];
        for (int h = 0; h < 12; h++) {
            paper[h] = HeadOffset.PAPER.offset(h, 12, 5);
            groups[h] = HeadOffset.CONTIGUOUS_GROUPS.offset(h, 12, 5);
        }
        org.junit.jupiter.api.Assertions.assertArrayEquals(new int[] {0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1}, paper);
        org.junit.jupiter.api.Assertions.assertArrayEquals(new int[] {0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3}, groups);
    }

    @Test
    void trueWorkFlopsFollowTheFormula() {
        // Config B: per head 4 N d (256 + 512/4 + 1024/16) = 4 N 32 448.
        DilatedAttentionConfig b = DilatedAttentionConfig.of(Branch.parseList("256:1,512:2,1024:4"), 4, 32, false);
        assertEquals(4.0 * 65536 * 32 * 448 * 4, b.flops(65536), 1e-3);
        assertEquals(4.0 * 65536 * 32 * 448 * 2, b.withCausal(true).flops(65536), 1e-3);
    }
}
