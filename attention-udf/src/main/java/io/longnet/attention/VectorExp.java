package io.longnet.attention;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link FastExp}'s exponentials written with the JDK's Vector API, float and float64: the same operations
 * in the same order (the rounding step a multiply then an add, as the scalar code has it, not fused), so the
 * results are {@link FastExp}'s bit for bit. The one home of the vectorised exponential, for the attention
 * tiles and the model's rows. Load only after {@link VectorApi#available()} said yes.
 */
public final class VectorExp {

    private static final VectorSpecies<Double> DOUBLES = DoubleVector.SPECIES_256;
    private static final int L = DOUBLES.length();
    /** The Taylor coefficients of {@code exp} from {@code 1/13!} down to {@code 1/2}, as FastExp's Horner chain. */
    private static final double[] TAYLOR = {1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0,
            1.0 / 3628800.0, 1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0,
            1.0 / 6.0, 0.5};

    private VectorExp() {
    }

    /**
     * {@code exp(x)} lane by lane for {@code x <= 0}, as {@link FastExp}'s float exponential: relative error
     * below 3e-7; below {@code -88} (where the scalar code clamps, to a result of exactly 0), and -inf, 0.
     */
    public static FloatVector exp(FloatVector x) {
        FloatVector t = x.mul(FastExp.LOG2E).add(FastExp.ROUNDER);
        FloatVector nf = t.sub(FastExp.ROUNDER);
        FloatVector f = nf.fma(x.broadcast(-FastExp.LN2_HI), x);
        f = nf.fma(x.broadcast(-FastExp.LN2_LO), f);
        FloatVector p = x.broadcast(FastExp.P6);
        p = p.fma(f, x.broadcast(FastExp.P5));
        p = p.fma(f, x.broadcast(FastExp.P4));
        p = p.fma(f, x.broadcast(FastExp.P3));
        p = p.fma(f, x.broadcast(FastExp.P2));
        FloatVector one = x.broadcast(1f);
        p = p.fma(f, one);
        p = p.fma(f, one);
        IntVector n = ((IntVector) t.reinterpretAsInts()).sub(FastExp.ROUNDER_BITS - 127);
        return p.mul(n.lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats()).blend(0f, x.lt(FastExp.FLOOR));
    }

    /**
     * {@code 2^x} lane by lane for {@code x <= 0}, as {@link FastExp#exp2InPlace}, bit for bit: below
     * {@code -127}, and -inf, 0.
     */
    static FloatVector exp2(FloatVector x) {
        FloatVector t = x.add(FastExp.ROUNDER);
        FloatVector g = x.sub(t.sub(FastExp.ROUNDER));
        FloatVector p = x.broadcast(FastExp.C6);
        p = p.fma(g, x.broadcast(FastExp.C5));
        p = p.fma(g, x.broadcast(FastExp.C4));
        p = p.fma(g, x.broadcast(FastExp.C3));
        p = p.fma(g, x.broadcast(FastExp.C2));
        p = p.fma(g, x.broadcast(FastExp.C1));
        p = p.fma(g, x.broadcast(1f));
        IntVector n = ((IntVector) t.reinterpretAsInts()).sub(FastExp.ROUNDER_BITS - 127);
        return p.mul(n.lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats()).blend(0f, x.lt(FastExp.FLOOR2));
    }

    /**
     * {@code x[i] = exp(x[i] - shift[i])} for {@code i} in {@code [from, to)}: whole vectors here, the rest by
     * the scalar code ({@code rounded} is its scratch).
     */
    static void expInPlace(double[] x, double[] shift, int from, int to, double[] rounded) {
        int i = from;
        for (; i + L <= to; i += L) {
            DoubleVector v = DoubleVector.fromArray(DOUBLES, x, i).sub(DoubleVector.fromArray(DOUBLES, shift, i));
            exp(v).intoArray(x, i);
        }
        if (i < to) {
            FastExp.expInPlaceLoops(x, shift, i, to, rounded);
        }
    }

    private static DoubleVector exp(DoubleVector arg) {
        DoubleVector xc = arg.max(FastExp.FLOOR_D);
        DoubleVector t = xc.mul(FastExp.LOG2E_D).add(FastExp.ROUNDER_D);
        DoubleVector nf = t.sub(FastExp.ROUNDER_D);
        DoubleVector f = nf.fma(DoubleVector.broadcast(DOUBLES, -FastExp.LN2_HI_D), xc);
        f = nf.fma(DoubleVector.broadcast(DOUBLES, -FastExp.LN2_LO_D), f);
        DoubleVector p = DoubleVector.broadcast(DOUBLES, TAYLOR[0]);
        for (int n = 1; n < TAYLOR.length; n++) {
            p = p.fma(f, DoubleVector.broadcast(DOUBLES, TAYLOR[n]));
        }
        DoubleVector one = DoubleVector.broadcast(DOUBLES, 1.0);
        p = p.fma(f, one);
        p = p.fma(f, one);
        LongVector bits = (LongVector) t.reinterpretAsLongs();
        DoubleVector scale = bits.sub(FastExp.ROUNDER_D_BITS - 1023).lanewise(VectorOperators.LSHL, 52)
                .reinterpretAsDoubles();
        return p.mul(scale);
    }
}
