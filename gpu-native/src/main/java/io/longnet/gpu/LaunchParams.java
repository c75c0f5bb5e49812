package io.longnet.gpu;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Packs {@code struct DilatedParams} (dilated_params.h) into the bytes passed by value to the kernel: six
 * device pointers, then ten int32, then one float, 8-byte aligned (96 bytes). The one place that knows
 * the struct's layout on the Java side.
 */
public final class LaunchParams {

    public static final int SIZE = 96;

    private final ByteBuffer bytes = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);

    /** Device addresses of q, k, v, o, lse and head_key_rows (0 for none). */
    public LaunchParams pointers(long q, long k, long v, long o, long lse, long headKeyRows) {
        bytes.putLong(0, q).putLong(8, k).putLong(16, v).putLong(24, o).putLong(32, lse).putLong(40, headKeyRows);
        return this;
    }

    public LaunchParams shape(int n, int heads, int w, int r, int offsetMode, boolean causal) {
        bytes.putInt(48, n).putInt(52, heads).putInt(56, w).putInt(60, r).putInt(64, offsetMode)
                .putInt(68, causal ? 1 : 0);
        return this;
    }

    public LaunchParams gathered(boolean gathered, int offsetInSegment, int keyHeadStride) {
        bytes.putInt(72, gathered ? 1 : 0).putInt(76, offsetInSegment).putInt(80, keyHeadStride);
        return this;
    }

    public LaunchParams first(boolean first) {
        bytes.putInt(84, first ? 1 : 0);
        return this;
    }

    /** Softmax scale {@code 1/sqrt(d)}, stored as {@code log2(e)/sqrt(d)} for exp2. */
    public LaunchParams headDim(int d) {
        bytes.putFloat(88, (float) (1.0 / Math.log(2) / Math.sqrt(d)));
        return this;
    }

    public byte[] toBytes() {
        return bytes.array().clone();
    }
}
