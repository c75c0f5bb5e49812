package io.longnet.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.longnet.attention.ParallelRows;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class ArrayPoolTest {

    @Test
    void givenArraysComeBackByLengthOnceEachAndZerosAreCleared() {
        try (ParallelRows threads = new ParallelRows(2)) {
            ArrayPool pool = new ArrayPool(threads);
            double[] a = pool.take(100_000);
            Arrays.fill(a, 3.5);
            double[] other = pool.take(7);
            pool.give(a, null, a, other); // the same array twice: held once
            assertEquals(2, pool.held());
            assertSame(other, pool.take(7));
            double[] cleared = pool.zeros(100_000);
            assertSame(a, cleared, "the given array of that length");
            for (double x : cleared) {
                assertEquals(0.0, x);
            }
            assertNotSame(a, pool.take(100_000), "an array is handed out once");
            assertEquals(0, pool.held());
            double[] source = {1, -2, 5};
            double[] copy = pool.copyOf(source);
            assertNotSame(source, copy);
            assertEquals(Arrays.toString(source), Arrays.toString(copy));

            pool.startStep(10);
            pool.give(copy);
            pool.startStep(10);
            assertEquals(1, pool.held(), "a window of the same length keeps the arrays");
            pool.startStep(9);
            assertEquals(0, pool.held(), "a window of another length drops them");
        }
    }
}
