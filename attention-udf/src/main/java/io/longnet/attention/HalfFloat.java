package io.longnet.attention;

import java.nio.ShortBuffer;

/**
 * The 16-bit float formats q, k and v may arrive in (IEEE 754 binary16 and bfloat16), as their bits. A
 * kernel that computes in 16 bits takes them as they are stored; the others widen them here, exactly.
 */
public enum HalfFloat {
    F16,
    BF16;

    /** The float value of {@code bits} (the low 16 bits): exact, NaN payloads kept. */
    public float toFloat(int bits) {
        return Float.intBitsToFloat(toFloatBits(bits));
    }

    /**
     * Widens {@code count} values from {@code src}'s position into {@code dst[at ..]}, leaving positions as
     * they are; returns the index (from {@code src}'s position) of the first infinite or NaN value, or -1.
     */
    public int widen(ShortBuffer src, int count, float[] dst, int at) {
        if (src.remaining() < count || at < 0 || dst.length - at < count) {
            throw new IndexOutOfBoundsException(count + " values from " + src.remaining() + " into "
                    + (dst.length - at));
        }
        int from = src.position();
        int bad = -1;
        // One table load per element for binary16 instead of toFloat's branches: GBs of inputs widen at
        // memory speed. The table holds float bits, so results equal toFloat's, NaN payloads included.
        int[] table = this == F16 ? F16Table.BITS : null;
        for (int i = 0; i < count; i++) {
            int bits = src.get(from + i) & 0xFFFF;
            int f = table != null ? table[bits] : bits << 16;
            if (bad < 0 && (f & 0x7F800000) == 0x7F800000) {
                bad = i;
            }
            dst[at + i] = Float.intBitsToFloat(f);
        }
        return bad;
    }

    private int toFloatBits(int bits) {
        return this == F16 ? f16ToFloatBits(bits) : (bits & 0xFFFF) << 16;
    }

    /** binary16 to float32 bits: zeros, subnormals, normals, infinities and NaN (payload kept). */
    private static int f16ToFloatBits(int bits) {
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1F;
        int mant = bits & 0x3FF;
        if (exp == 0x1F) {
            // Infinity (mant == 0) or NaN; the payload moves to the top of float's mantissa.
            return sign | 0x7F800000 | mant << 13;
        }
        if (exp == 0) {
            // Zero or subnormal: mant * 2^-24, exact in float (10 significant bits, power-of-two scale).
            return sign | Float.floatToRawIntBits(mant * 0x1p-24f);
        }
        // Normal: rebias the exponent from 15 to 127.
        return sign | (exp + 112) << 23 | mant << 13;
    }

    /** float32 bits of every binary16 value, indexed by its bits; built on first use. */
    private static final class F16Table {
        static final int[] BITS = new int[1 << 16];

        static {
            for (int h = 0; h < BITS.length; h++) {
                BITS[h] = f16ToFloatBits(h);
            }
        }
    }
}
