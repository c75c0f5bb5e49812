package io.longnet.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.longnet.attention.Branch;
import io.longnet.attention.DilatedAttentionConfig;
import org.junit.jupiter.api.Test;

/**
 * A requested partition length over blocks of B positions (a token dataset): refused when a sequence would
 * be cut inside a block, and the lengths a refusal names as valid are ones the plan accepts there.
 */
class PartitionPlanTest {

    /** The tiny model's branches (datasets/data/models/tiny-config.json). */
    static final DilatedAttentionConfig TINY = DilatedAttentionConfig.of(Branch.parseList("256:1,512:2,1024:4"), 4, 16,
            true);

    static String refusal(int length, long n, int blockSize) {
        return assertThrows(IllegalArgumentException.class,
                () -> PartitionPlan.of(TINY, n, length, PartitionPlan.DEFAULT_TASK_BYTES, blockSize)).getMessage();
    }

    @Test
    void theValidLengthsNamedAreMultiplesOfTheBlocks() {
        // Blocks of 1024: 128 fits the branches but not the blocks; 1024 fits both.
        assertEquals("partition length 100 does not fit branch 256:1: L must divide or be a multiple of every segment"
                + " length; valid: 1024, 2048, 3072", refusal(100, 5000, 1024));
        for (int valid : new int[] {1024, 2048, 3072}) {
            PartitionPlan.of(TINY, 5000, valid, PartitionPlan.DEFAULT_TASK_BYTES, 1024);
        }
        // Without blocks, the branches alone decide.
        assertEquals("partition length 100 does not fit branch 256:1: L must divide or be a multiple of every segment"
                + " length; valid: 16, 32, 64, 128, 256, 512", refusal(100, 5000, 1));
    }

    @Test
    void aLengthCuttingBlocksIsRefusedWhereASequenceSpansPartitions() {
        assertEquals("partition length 128 is not a multiple of the 256-position blocks of the input: valid: 256, 512,"
                + " 1024", refusal(128, 5000, 256));
        // A sequence within one partition is never cut: the length only bounds it.
        assertEquals(1, PartitionPlan.of(TINY, 100, 128, PartitionPlan.DEFAULT_TASK_BYTES, 256).partitions());
    }

    @Test
    void theSmallestValidLengthOfAtLeastSome() {
        assertEquals(64, PartitionPlan.smallestValid(TINY, 64, 1));
        assertEquals(256, PartitionPlan.smallestValid(TINY, 64, 256));
        assertEquals(512, PartitionPlan.smallestValid(TINY, 300, 1));
    }
}
