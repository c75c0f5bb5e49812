package io.longnet.tensors;

import io.longnet.attention.HalfFloat;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;

/**
 * The floating-point element types this project reads and writes in safetensors files, with their
 * little-endian conversions to and from float32 (and float64). Narrowing (float32 to F16 or BF16, float64
 * to float32) rounds to nearest, ties to even, as IEEE 754 and PyTorch do; widening is exact.
 */
public enum DType {
    F32(4),
    F16(2),
    BF16(2),
    /** Training checkpoints' float64 tensors. */
    F64(8);

    private final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    /** Bytes per element. */
    public int bytes() {
        return bytes;
    }

    /**
     * The dtype for a safetensors dtype string ("F32", "F16", "BF16", "F64").
     *
     * @throws TensorFormatException for any other dtype
     */
    public static DType parse(String name) {
        DType t = lookup(name);
        if (t == null) {
            throw new TensorFormatException(unsupported(name));
        }
        return t;
    }

    /**
     * As {@link #parse(String)}, with a message naming the file and tensor that hold the dtype:
     * "file X: tensor 'q': unsupported dtype 'I64' (supported: F32, F16, BF16)".
     */
    public static DType parse(String file, String tensor, String name) {
        DType t = lookup(name);
        if (t == null) {
            throw new TensorFormatException(file, tensor, "tensor '" + tensor + "': " + unsupported(name));
        }
        return t;
    }

    private static DType lookup(String name) {
        if (name == null) {
            return null;
        }
        switch (name) {
            case "F32": return F32;
            case "F16": return F16;
            case "BF16": return BF16;
            case "F64": return F64;
            default: return null;
        }
    }

    private static String unsupported(String name) {
        return "unsupported dtype '" + name + "' (supported: F32, F16, BF16, F64)";
    }

    /**
     * Converts {@code count} elements of this dtype, little-endian, starting at {@code src[offset]}, to
     * float32 at {@code dst}'s position, advancing it.
     *
     * @throws java.nio.BufferOverflowException if {@code dst} has fewer than {@code count} remaining
     */
    public void decode(byte[] src, int offset, int count, FloatBuffer dst) {
        if (dst.remaining() < count) {
            throw new java.nio.BufferOverflowException();
        }
        decode(ByteBuffer.wrap(src, offset, count * bytes), count, dst);
    }

    /**
     * Converts {@code count} elements of this dtype at {@code src}'s position (advancing it; any byte order
     * set on it is ignored: data are little-endian) to float32 at {@code dst}'s position, advancing it. The
     * bulk path of {@link SafetensorsFile#readRows}: {@code src} is usually a direct buffer the file was read
     * into.
     *
     * @throws java.nio.BufferUnderflowException if {@code src} holds fewer than {@code count} elements
     * @throws java.nio.BufferOverflowException  if {@code dst} has fewer than {@code count} remaining
     */
    public void decode(ByteBuffer src, int count, FloatBuffer dst) {
        if (src.remaining() < (long) count * bytes) {
            throw new java.nio.BufferUnderflowException();
        }
        if (dst.remaining() < count) {
            throw new java.nio.BufferOverflowException();
        }
        ByteBuffer in = src.slice().order(ByteOrder.LITTLE_ENDIAN);
        src.position(src.position() + count * bytes);
        int pos = dst.position();
        switch (this) {
            case F32 -> {
                FloatBuffer floats = in.asFloatBuffer();
                floats.limit(count);
                dst.put(floats);
                return;
            }
            case F64 -> {
                for (int i = 0; i < count; i++) {
                    dst.put(pos + i, (float) in.getDouble(8 * i));
                }
            }
            case F16, BF16 -> {
                HalfFloat format = halfFloat();
                ShortBuffer halves = in.asShortBuffer();
                if (dst.hasArray()) {
                    format.widen(halves, count, dst.array(), dst.arrayOffset() + pos);
                } else {
                    for (int i = 0; i < count; i++) {
                        dst.put(pos + i, format.toFloat(halves.get(i)));
                    }
                }
            }
            default -> throw new AssertionError(this);
        }
        dst.position(pos + count);
    }

    /**
     * Converts {@code count} floats from {@code src}'s position (advancing it) to this dtype,
     * little-endian, at {@code dst[offset]}.
     *
     * @throws java.nio.BufferUnderflowException if {@code src} has fewer than {@code count} remaining
     */
    public void encode(FloatBuffer src, int count, byte[] dst, int offset) {
        if (src.remaining() < count) {
            throw new java.nio.BufferUnderflowException();
        }
        int pos = src.position();
        if (this == F32) {
            FloatBuffer part = src.duplicate();
            part.limit(pos + count);
            ByteBuffer.wrap(dst, offset, count * 4).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(part);
        } else if (this == F64) {
            ByteBuffer out = ByteBuffer.wrap(dst, offset, count * 8).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < count; i++) {
                out.putDouble(offset + 8 * i, src.get(pos + i));
            }
        } else {
            boolean half = this == F16;
            for (int i = 0, o = offset; i < count; i++, o += 2) {
                float v = src.get(pos + i);
                int bits = half ? floatToHalf(v) : floatToBf16(v);
                dst[o] = (byte) bits;
                dst[o + 1] = (byte) (bits >>> 8);
            }
        }
        src.position(pos + count);
    }

    /**
     * Converts {@code count} elements of this dtype, little-endian, starting at {@code src[offset]}, to
     * float64 at {@code dst[at]}: F64 as it is, the others widened exactly.
     */
    public void decode(byte[] src, int offset, int count, double[] dst, int at) {
        if (this == F64) {
            ByteBuffer.wrap(src, offset, count * 8).order(ByteOrder.LITTLE_ENDIAN).asDoubleBuffer().get(dst, at, count);
            return;
        }
        float[] floats = new float[count];
        decode(src, offset, count, FloatBuffer.wrap(floats));
        for (int i = 0; i < count; i++) {
            dst[at + i] = floats[i];
        }
    }

    /**
     * Converts {@code count} doubles from {@code src}'s position (advancing it) to this dtype, little-endian,
     * at {@code dst[offset]}: F64 as they are, the others through float32 (rounded to nearest).
     */
    public void encode(DoubleBuffer src, int count, byte[] dst, int offset) {
        if (src.remaining() < count) {
            throw new java.nio.BufferUnderflowException();
        }
        if (this == F64) {
            DoubleBuffer part = src.duplicate();
            part.limit(part.position() + count);
            ByteBuffer.wrap(dst, offset, count * 8).order(ByteOrder.LITTLE_ENDIAN).asDoubleBuffer().put(part);
            src.position(src.position() + count);
            return;
        }
        float[] floats = new float[count];
        for (int i = 0; i < count; i++) {
            floats[i] = (float) src.get();
        }
        encode(FloatBuffer.wrap(floats), count, dst, offset);
    }

    /** IEEE 754 binary16 bits (low 16 bits of {@code bits}) to float, exactly (see {@link HalfFloat}). */
    public static float halfToFloat(int bits) {
        return HalfFloat.F16.toFloat(bits);
    }

    /**
     * The attention engine's name for this 16-bit dtype, so that kernels can take such tensors as stored.
     *
     * @throws IllegalStateException for F32 and F64
     */
    public HalfFloat halfFloat() {
        return switch (this) {
            case F16 -> HalfFloat.F16;
            case BF16 -> HalfFloat.BF16;
            default -> throw new IllegalStateException(this + " is not a 16-bit float");
        };
    }

    /** Float to IEEE 754 binary16 bits, rounding to nearest, ties to even; overflow gives infinity. */
    public static short floatToHalf(float value) {
        int f = Float.floatToRawIntBits(value);
        int sign = (f >>> 16) & 0x8000;
        int abs = f & 0x7FFFFFFF;
        if (abs >= 0x7F800000) {
            if (abs == 0x7F800000) {
                return (short) (sign | 0x7C00);
            }
            // NaN: keep it quiet and keep the top of the payload.
            return (short) (sign | 0x7E00 | (abs >>> 13) & 0x3FF);
        }
        if (abs >= 0x477FF000) {
            // >= 65520, half-way between the largest half (65504) and 2^16: ties-to-even goes up.
            return (short) (sign | 0x7C00);
        }
        if (abs < 0x38800000) {
            // Below 2^-14: a half subnormal (units of 2^-24) or zero. 2^-25 itself ties to even, i.e. 0.
            if (abs <= 0x33000000) {
                return (short) sign;
            }
            int e = abs >>> 23;                    // float biased exponent, 102..112
            int m = (abs & 0x7FFFFF) | 0x800000;   // 24-bit significand with the hidden bit
            int shift = 126 - e;                   // value / 2^-24 = m >> shift, shift in 14..24
            int q = m >>> shift;
            int rem = m & ((1 << shift) - 1);
            int halfway = 1 << (shift - 1);
            if (rem > halfway || (rem == halfway && (q & 1) != 0)) {
                q++;                               // may carry into the smallest normal, 0x0400: correct
            }
            return (short) (sign | q);
        }
        int q = ((abs >>> 23) - 112) << 10 | (abs & 0x7FFFFF) >>> 13;
        int rem = abs & 0x1FFF;
        if (rem > 0x1000 || (rem == 0x1000 && (q & 1) != 0)) {
            q++;                                   // a carry into the exponent is the correct result
        }
        return (short) (sign | q);
    }

    /** bfloat16 bits (low 16 bits of {@code bits}) to float: they are the upper half of a float32. */
    public static float bf16ToFloat(int bits) {
        return HalfFloat.BF16.toFloat(bits);
    }

    /** Float to bfloat16 bits, rounding to nearest, ties to even; NaN stays NaN. */
    public static short floatToBf16(float value) {
        int f = Float.floatToRawIntBits(value);
        if ((f & 0x7FFFFFFF) > 0x7F800000) {
            // NaN: truncation could clear every payload bit left and give infinity; force a quiet bit.
            return (short) (f >>> 16 | 0x40);
        }
        // Adding 0x7FFF (+1 when the kept part is odd) carries into bit 16 exactly when rounding up.
        return (short) ((f + 0x7FFF + (f >>> 16 & 1)) >>> 16);
    }
}
