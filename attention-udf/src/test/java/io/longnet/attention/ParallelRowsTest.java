package io.longnet.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** How {@link ParallelRows} cuts a range of rows: contiguous chunks covering it once, on its threads. */
class ParallelRowsTest {

    @ParameterizedTest(name = "{1} rows, at least {2}, {0} thread(s)")
    @CsvSource({"1, 100, 8, 1", "3, 100, 8, 3", "3, 20, 8, 2", "3, 7, 8, 1", "4, 1000, 1, 4", "2, 1, 32, 1"})
    void chunksAreContiguousCoverEveryRowOnceAndAreNoMoreThanTheThreads(int threads, int rows, int minRows,
                                                                        int expectedChunks) {
        List<int[]> chunks = Collections.synchronizedList(new ArrayList<>());
        Set<String> names = ConcurrentHashMap.newKeySet();
        try (ParallelRows pool = new ParallelRows(threads)) {
            assertEquals(threads, pool.threads());
            pool.split(rows, minRows, (from, to) -> {
                chunks.add(new int[] {from, to});
                names.add(Thread.currentThread().getName());
            });
        }
        assertEquals(expectedChunks, chunks.size(), "chunks");
        chunks.sort((a, b) -> Integer.compare(a[0], b[0]));
        int next = 0;
        for (int[] c : chunks) {
            assertEquals(next, c[0], "a chunk starts where the one before ended");
            assertTrue(c[1] > c[0], "a chunk holds rows");
            assertTrue(expectedChunks == 1 || c[1] - c[0] >= minRows, "a chunk of several holds at least " + minRows);
            next = c[1];
        }
        assertEquals(rows, next, "the chunks end at the last row");
        if (expectedChunks == 1) {
            assertEquals(Set.of(Thread.currentThread().getName()), names, "one chunk runs on the caller's thread");
        } else {
            assertTrue(names.stream().allMatch(n -> n.startsWith("longnet-training-")), "chunks ran on " + names);
        }
    }

    @Test
    void noRowsRunNothingAndAChunksFailureReachesTheCaller() {
        try (ParallelRows pool = new ParallelRows(2)) {
            pool.split(0, 1, (from, to) -> {
                throw new AssertionError("ran on no rows");
            });
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> pool.split(10, 1, (from, to) -> {
                if (from > 0) {
                    throw new IllegalStateException("chunk from " + from + " failed");
                }
            }));
            assertEquals("chunk from 5 failed", e.getMessage());
        }
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> new ParallelRows(0));
        assertTrue(bad.getMessage().contains("threads must be >= 1 (got 0)"), bad.getMessage());
    }

    /** The chunks run at the same time: each waits for the other, which a pool running them in turn never ends. */
    @Test
    void chunksRunAtTheSameTime() {
        CountDownLatch bothStarted = new CountDownLatch(2);
        AtomicInteger met = new AtomicInteger();
        try (ParallelRows pool = new ParallelRows(2)) {
            pool.split(2, 1, (from, to) -> {
                bothStarted.countDown();
                try {
                    if (bothStarted.await(20, TimeUnit.SECONDS)) {
                        met.incrementAndGet();
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
        }
        assertEquals(2, met.get(), "chunks that saw the other one running");
    }
}
