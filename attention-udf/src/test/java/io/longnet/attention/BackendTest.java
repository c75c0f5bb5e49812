package io.longnet.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The backend names users write: parsed once, shown and persisted in lower case. */
class BackendTest {

    @Test
    void parsesTheLowerCaseNamesAndWritesThemBack() {
        assertEquals(Backend.AUTO, Backend.parse("auto"));
        assertEquals(Backend.CPU, Backend.parse("cpu"));
        assertEquals(Backend.GPU, Backend.parse("gpu"));
        assertEquals(Backend.CPU, Backend.parse(" CPU "));
        for (Backend b : Backend.values()) {
            assertEquals(b, Backend.parse(b.toString()));
        }
        assertEquals("auto", Backend.AUTO.toString());
    }

    @Test
    void anUnknownNameNamesTheValidOnes() {
        assertEquals("backend 'tpu': expected auto, cpu or gpu",
                assertThrows(IllegalArgumentException.class, () -> Backend.parse("tpu")).getMessage());
        assertThrows(IllegalArgumentException.class, () -> Backend.parse(null));
    }

    @Test
    void cpuOpensTheBuiltInKernel() {
        try (AttentionKernel kernel = Backend.CPU.open(1, -1)) {
            assertTrue(kernel instanceof CpuAttentionKernel, kernel.name());
            String tiles = VectorApi.available() ? "Vector API" : "scalar loops";
            assertTrue(kernel.name().startsWith("cpu (tiles: " + tiles), kernel.name());
        }
    }
}
