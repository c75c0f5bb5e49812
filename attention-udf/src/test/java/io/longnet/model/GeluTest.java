package io.longnet.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.math.MathContext;
import org.junit.jupiter.api.Test;

class GeluTest {

    private static final MathContext MC = new MathContext(90);
    private static final BigDecimal PI = new BigDecimal("3.1415926535897932384626433832795028841971693993751058209749445923"
            + "0781640628620899862803482534211706798");
    private static final BigDecimal SQRT_PI = PI.sqrt(MC);
    private static final BigDecimal TWO = BigDecimal.valueOf(2);

    /** erfc(x) = 1 - 2/sqrt(pi) sum_n (-1)^n x^(2n+1) / (n! (2n+1)), to 90 digits (enough for |x| <= 6.5). */
    private static BigDecimal erfcExact(BigDecimal x) {
        BigDecimal x2 = x.multiply(x, MC);
        BigDecimal power = x; // (-1)^n x^(2n+1) / n!
        BigDecimal sum = BigDecimal.ZERO;
        for (int n = 0; n < 400; n++) {
            BigDecimal term = power.divide(BigDecimal.valueOf(2L * n + 1), MC);
            sum = sum.add(term, MC);
            if (n > 10 && term.abs().compareTo(new BigDecimal("1e-60")) < 0) {
                break;
            }
            power = power.multiply(x2, MC).divide(BigDecimal.valueOf(-(n + 1L)), MC);
        }
        return BigDecimal.ONE.subtract(TWO.divide(SQRT_PI, MC).multiply(sum, MC), MC);
    }

    /** exp(y) by its series (fine for |y| <= 30 at 90 digits). */
    private static BigDecimal expExact(BigDecimal y) {
        if (y.signum() < 0) {
            return BigDecimal.ONE.divide(expExact(y.negate()), MC);
        }
        BigDecimal term = BigDecimal.ONE;
        BigDecimal sum = BigDecimal.ONE;
        for (int n = 1; n < 400 && term.compareTo(new BigDecimal("1e-70")) > 0; n++) {
            term = term.multiply(y, MC).divide(BigDecimal.valueOf(n), MC);
            sum = sum.add(term, MC);
        }
        return sum;
    }

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

    @Test
    void tableMatchesTheSeriesInExactArithmetic() {
        // Nodes (multiples of 1/64), midpoints between them, and points in between, over the whole table.
        double worst = 0;
        double worstAt = 0;
        for (int i = -6 * 256 + 1; i < 6 * 256; i++) {
            double x = i / 256.0 + (i % 3) * 1e-4;
            double expected = erfcExact(new BigDecimal(x)).doubleValue();
            double rel = Math.abs(Gelu.erfc(x) - expected) / expected;
            if (rel > worst) {
                worst = rel;
                worstAt = x;
            }
        }
        System.out.println("erfc table: largest relative error " + worst + " at " + worstAt);
        assertTrue(worst < 4e-15, "erfc relative error " + worst + " at " + worstAt);
    }

    @Test
    void fastGeluAndDerivativeMatchExactArithmetic() {
        BigDecimal invSqrtTwoPi = BigDecimal.ONE.divide(TWO.multiply(PI, MC).sqrt(MC), MC);
        double worstGelu = 0;
        double worstTail = 0;
        double worstDerivative = 0;
        for (int i = -9 * 64; i <= 9 * 64; i++) {
            double x = i / 64.0 + 0.37e-3;
            BigDecimal bx = new BigDecimal(x);
            // u = -x / sqrt(2) rounded as the implementation does, so that only the erfc part is compared.
            double u = -x * 0.7071067811865476;
            BigDecimal phi = erfcExact(new BigDecimal(u)).divide(TWO, MC);
            double gelu = bx.multiply(phi, MC).doubleValue();
            double density = invSqrtTwoPi.multiply(expExact(bx.multiply(bx, MC).divide(TWO.negate(), MC)), MC)
                    .doubleValue();
            double derivative = phi.add(bx.multiply(new BigDecimal(density), MC), MC).doubleValue();
            double relGelu = Math.abs(Gelu.gelu(x) - gelu) / Math.max(Math.abs(gelu), 1e-300);
            if (Math.abs(u) < 6) {
                worstGelu = Math.max(worstGelu, relGelu);
            } else {
                worstTail = Math.max(worstTail, relGelu); // the continued fraction, not the table
            }
            worstDerivative = Math.max(worstDerivative, Math.abs(Gelu.derivative(x) - derivative)
                    / Math.max(1, Math.abs(derivative)));
        }
        System.out.println("gelu: largest relative error " + worstGelu + " (tail beyond the table " + worstTail
                + "); derivative: largest error " + worstDerivative + " (relative above 1)");
        assertTrue(worstGelu < 3e-15, "gelu relative error " + worstGelu);
        assertTrue(worstTail < 1e-14, "gelu relative error in the tail " + worstTail);
        assertTrue(worstDerivative < 4e-15, "gelu' error " + worstDerivative);
    }

    @Test
    void withDerivativeGivesExactlyWhatTheTwoMethodsGive() {
        int n = 4001;
        double[] x = new double[n + 3];
        for (int i = 0; i < n; i++) {
            x[i] = -10 + 20.0 * i / (n - 1) + 1e-7 * (i % 7); // the table, both tails, nodes and between
        }
        x[n] = 0.0;
        x[n + 1] = -0.0;
        x[n + 2] = Double.NaN;
        double[] gelu = new double[x.length];
        double[] slope = new double[x.length];
        Gelu.withDerivative(x, gelu, slope, x.length);
        for (int i = 0; i < x.length; i++) {
            assertEquals(Gelu.gelu(x[i]), gelu[i], 0.0, "gelu(" + x[i] + ")");
            assertEquals(Gelu.derivative(x[i]), slope[i], 0.0, "gelu'(" + x[i] + ")");
        }
    }
}
