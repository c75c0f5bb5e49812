package io.longnet.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** The precision names of {@code -Dlongnet.gpu.precision}: parsed in one place, no device needed. */
class PrecisionTest {

    @Test
    void parsesEitherCaseAndWritesLowerCase() {
        assertEquals(Precision.BF16, Precision.parse("bf16"));
        assertEquals(Precision.FP32, Precision.parse("FP32"));
        assertEquals("fp32", Precision.FP32.toString());
        assertEquals("precision 'f16': expected bf16 or fp32",
                assertThrows(IllegalArgumentException.class, () -> Precision.parse("f16")).getMessage());
    }

    @Test
    void theSystemPropertyChoosesBf16ByDefault() {
        String before = System.getProperty(Precision.PROPERTY);
        try {
            System.clearProperty(Precision.PROPERTY);
            assertEquals(Precision.BF16, Precision.configured());
            System.setProperty(Precision.PROPERTY, "fp32");
            assertEquals(Precision.FP32, Precision.configured());
            System.setProperty(Precision.PROPERTY, "half");
            assertEquals("-Dlongnet.gpu.precision=half: expected bf16 or fp32",
                    assertThrows(IllegalArgumentException.class, Precision::configured).getMessage());
        } finally {
            if (before == null) {
                System.clearProperty(Precision.PROPERTY);
            } else {
                System.setProperty(Precision.PROPERTY, before);
            }
        }
    }
}
