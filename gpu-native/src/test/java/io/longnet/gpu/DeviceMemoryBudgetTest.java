package io.longnet.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** The per-device budget: reservations wait for one another and never exceed the capacity. */
class DeviceMemoryBudgetTest {

    @Test
    void aReservationWaitsUntilTheOthersRelease() throws Exception {
        DeviceMemoryBudget budget = new DeviceMemoryBudget(0, 100);
        DeviceMemoryBudget.Reservation first = budget.reserve(60, "first");
        AtomicReference<DeviceMemoryBudget.Reservation> second = new AtomicReference<>();
        Thread t = new Thread(() -> second.set(budget.reserve(60, "second")));
        t.start();
        while (t.getState() != Thread.State.WAITING) {
            assertTrue(t.isAlive(), "the second reservation must wait, not pass or fail");
            Thread.sleep(5);
        }
        assertEquals(60, budget.held(), "60 + 60 > 100: only the first is held");
        first.close();
        first.close();  // a second close releases nothing more
        t.join();
        assertEquals(60, budget.held());
        second.get().close();
        assertEquals(0, budget.held());
    }

    @Test
    void aReservationLargerThanTheDeviceFailsAtOnceSayingWhatFits() {
        DeviceMemoryBudget budget = new DeviceMemoryBudget(2, 3L << 30);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> budget.reserve(4L << 30, "a run of 9 tokens"));
        assertTrue(e.getMessage().contains("a run of 9 tokens needs 4.00 GiB of GPU 2's memory, more than the 3.00 GiB"),
                e.getMessage());
        assertTrue(e.getMessage().contains("--partition-length"), e.getMessage());
        assertEquals(0, budget.held());
    }

    @Test
    void theFractionComesFromTheSystemProperty() {
        System.setProperty(DeviceMemoryBudget.FRACTION_PROPERTY, "0.5");
        try {
            assertEquals(500, DeviceMemoryBudget.of(0, 1000).capacity());
            System.setProperty(DeviceMemoryBudget.FRACTION_PROPERTY, "1.5");
            assertThrows(IllegalArgumentException.class, () -> DeviceMemoryBudget.of(0, 1000));
        } finally {
            System.clearProperty(DeviceMemoryBudget.FRACTION_PROPERTY);
        }
        assertEquals(850, DeviceMemoryBudget.of(0, 1000).capacity());
    }
}
