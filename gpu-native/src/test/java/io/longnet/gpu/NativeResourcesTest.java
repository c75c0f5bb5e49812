package io.longnet.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Release order, partial-acquisition cleanup and single frees of the GPU's native resources, without a device. */
class NativeResourcesTest {

    /** A resource that records its release in {@code log}; its release fails when {@code failing}. */
    private record Fake(String name, List<String> log, boolean failing) implements AutoCloseable {
        @Override
        public void close() {
            log.add(name);
            if (failing) {
                throw new IllegalStateException("release of " + name + " failed");
            }
        }
    }

    /** Acquires a, b, c, d as Slot does, the acquisition of {@code failAt} throwing instead. */
    private static void acquire(NativeResources r, List<String> log, String failAt) {
        try {
            for (String name : List.of("a", "b", "c", "d")) {
                if (name.equals(failAt)) {
                    throw new IllegalStateException("cuMemAlloc: CUDA_ERROR_OUT_OF_MEMORY");
                }
                r.add(new Fake(name, log, false));
            }
        } catch (RuntimeException e) {
            throw r.closeAfter(e);
        }
    }

    @Test
    void releasesInReverseOrderOfAcquisition() {
        List<String> log = new ArrayList<>();
        NativeResources r = new NativeResources();
        acquire(r, log, null);
        assertEquals(List.of(), log);
        r.close();
        assertEquals(List.of("d", "c", "b", "a"), log);
    }

    @Test
    void aFailedAcquisitionReleasesWhatWasAcquiredBeforeIt() {
        List<String> log = new ArrayList<>();
        NativeResources r = new NativeResources();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> acquire(r, log, "c"));
        assertEquals("cuMemAlloc: CUDA_ERROR_OUT_OF_MEMORY", e.getMessage());
        assertEquals(List.of("b", "a"), log);
        r.close();  // the owner's close after a failed construction releases nothing twice
        assertEquals(List.of("b", "a"), log);
    }

    @Test
    void everyResourceIsReleasedWhenOneReleaseFails() {
        List<String> log = new ArrayList<>();
        NativeResources r = new NativeResources();
        r.add(new Fake("a", log, true));
        r.add(new Fake("b", log, false));
        r.add(new Fake("c", log, true));
        IllegalStateException e = assertThrows(IllegalStateException.class, r::close);
        assertEquals(List.of("c", "b", "a"), log);
        assertEquals("release of c failed", e.getMessage());
        assertEquals("release of a failed", e.getSuppressed()[0].getMessage());
    }

    @Test
    void releaseFailuresAfterAFailedAcquisitionAreSuppressedByIt() {
        List<String> log = new ArrayList<>();
        NativeResources r = new NativeResources();
        r.add(new Fake("a", log, true));
        RuntimeException cause = new IllegalStateException("cuStreamCreate failed");
        assertSame(cause, r.closeAfter(cause));
        assertEquals(List.of("a"), log);
        assertEquals("release of a failed", cause.getSuppressed()[0].getMessage());
    }

    @Test
    void aBufferIsFreedOnceHoweverOftenItIsClosed() {
        int[] frees = new int[1];
        NativeBuffer buffer = new NativeBuffer(64) {
            @Override
            void free() {
                frees[0]++;
            }
        };
        buffer.close();
        buffer.close();
        assertEquals(1, frees[0]);
        assertEquals(64, buffer.bytes());
    }

    @Test
    void closeIsIdempotentAndDisownedResourcesAreKept() {
        List<String> log = new ArrayList<>();
        NativeResources r = new NativeResources();
        r.add(new Fake("a", log, false));
        Fake b = r.add(new Fake("b", log, false));
        assertSame(b, r.disown(b));
        r.close();
        r.close();
        assertEquals(List.of("a"), log);
    }
}
