package io.longnet.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class GeluTest {

    /** Relative difference. */
    private static void assertRel(double expected, double actual, double tol) {
        double rel = Math.abs(actual - expected) / Math.abs(expected);
        assertTrue(rel <= tol, "expected " + expected + ", got " + actual + " (relative error " + rel + ")");
    }

    @Test
    void erfMatchesKnownValues() {
        // Reference values of erf and erfc to 16 digits (tables / mpmath).
        assertRel(0.1124629160182849, Gelu.erf(0.1), 1e-14);
        assertRel(0.5204998778130465, Gelu.erf(0.5), 1e-14);
        assertRel(0.8427007929497149, Gelu.erf(1.0), 1e-14);
        assertRel(0.9953222650189527, Gelu.erf(2.0), 1e-14);
        assertRel(-0.8427007929497149, Gelu.erf(-1.0), 1e-14);
        assertRel(2.209049699858544e-05, Gelu.erfc(3.0), 1e-12);
        assertRel(1.5374597944280349e-12, Gelu.erfc(5.0), 1e-12);
        assertRel(2.7623240713337714e-33, Gelu.erfc(8.5), 1e-12);
        assertRel(1.9999779095030015, Gelu.erfc(-3.0), 1e-14);
        assertEquals(0.0, Gelu.erf(0.0));
        assertEquals(1.0, Gelu.erf(30.0));
        assertTrue(Double.isNaN(Gelu.erf(Double.NaN)));
    }

    @Test
    void bothMethodsAgreeWhereTheyMeet() {
        // Just below the switch the series runs, at and above it the continued fraction.
        double below = Gelu.erfc(Math.nextDown(3.0));
        double at = Gelu.erfc(3.0);
        assertRel(at, below, 1e-11);
        for (double x = 0.05; x < 6; x += 0.05) {
            assertRel(Gelu.erf(x) + Gelu.erfc(x), 1.0, 1e-15);
        }
    }

    @Test
    void geluIsXTimesTheNormalDistributionFunction() {
        for (double x = -9; x <= 9; x += 0.37) {
            double expected = x * ReferenceDecoder.phi(x);
            assertEquals(expected, Gelu.gelu(x), 1e-10 * Math.max(1, Math.abs(expected)), "gelu(" + x + ")");
        }
        assertRel(0.8413447460685429, Gelu.gelu(1.0), 1e-14);  // Phi(1)
        assertRel(-0.15865525393145707, Gelu.gelu(-1.0), 1e-14);
    }

    @Test
    void derivativeMatchesKnownValuesAndFiniteDifferences() {
        // Phi(x) + x phi(x), from Python's math.erfc and math.exp.
        assertEquals(0.5, Gelu.derivative(0.0), 1e-16);
        assertRel(1.0833154705876864, Gelu.derivative(1.0), 1e-14);
        assertRel(-0.08331547058768629, Gelu.derivative(-1.0), 1e-13);
        assertRel(1.037611085908145, Gelu.derivative(2.5), 1e-14);
        assertRel(-0.006941944306771641, Gelu.derivative(-3.2), 1e-12);
        double h = 1e-4;
        for (double x = -7; x <= 7; x += 0.23) {
            double fd = (8 * (Gelu.gelu(x + h) - Gelu.gelu(x - h)) - (Gelu.gelu(x + 2 * h) - Gelu.gelu(x - 2 * h))) / (12 * h);
            assertEquals(fd, Gelu.derivative(x), 1e-10, "gelu'(" + x + ")");
        }
    }
}
