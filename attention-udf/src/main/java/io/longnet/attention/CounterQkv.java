package io.longnet.attention;

import java.io.Serializable;

/**
 * Synthetic q, k and v that any task or device can regenerate (docs/ARCHITECTURE.md §4, synthetic inputs):
 * the value of tensor {@code t} (q, k, v) at position {@code p}, head {@code h}, channel {@code c} is a hash of
 * {@code (seed, t, p, h, c)} and nothing else, so a partition's inputs, a segment's sparsified keys or one
 * row's values cost only what is asked for, and a retried task recomputes the same bits. The hash is
 * splitmix64's finaliser over the packed key; the value is its top {@code bits} bits as a signed integer over
 * {@code 2^(bits-1)}: uniform in {@code [-1, 1)} on a grid that a float holds exactly, and that bf16 holds
 * exactly for {@code bits <= 8}. The CUDA generator (dilated_fwd_launch.cu, {@code counter_qkv}) is the same
 * arithmetic.
 *
 * @param seed the stream; runs with equal seeds see equal inputs
 * @param bits significant bits of each value, 1 to 24 ({@link #BF16_BITS}, {@link #FP32_BITS})
 */
public record CounterQkv(long seed, int bits) implements Serializable {

    /** Values bf16 represents exactly: multiples of 1/128 in [-1, 1). */
    public static final int BF16_BITS = 8;
    /** Values float32 represents exactly: multiples of 2^-23 in [-1, 1). */
    public static final int FP32_BITS = 24;

    public static final int Q = 0;
    public static final int K = 1;
    public static final int V = 2;
    /** Tensor number 3 of the key space: draws for the sampled rows, never an input. */
    static final int DRAWS = 3;

    /** Positions, heads and channels the packed key has room for. */
    public static final long MAX_POSITIONS = 1L << 40;
    public static final int MAX_HEADS = 1 << 10;
    public static final int MAX_HEAD_DIM = 1 << 10;

    private static final long GOLDEN = 0x9E3779B97F4A7C15L;

    public CounterQkv {
        if (bits < 1 || bits > FP32_BITS) {
            throw new IllegalArgumentException("synthetic values take 1 to 24 significant bits (got " + bits
                    + "): 8 for bf16, 24 for fp32");
        }
    }

    /** Inputs that bf16 holds exactly ({@code true}) or float32 ({@code false}). */
    public static CounterQkv of(long seed, boolean bf16) {
        return new CounterQkv(seed, bf16 ? BF16_BITS : FP32_BITS);
    }

    /** Checks that {@code n} positions of {@code config} fit the packed key; the message says what does. */
    public static void requireFits(DilatedAttentionConfig config, long n) {
        if (n > MAX_POSITIONS || config.heads() > MAX_HEADS || config.headDim() > MAX_HEAD_DIM) {
            throw new IllegalArgumentException("synthetic inputs cover at most 2^40 positions, " + MAX_HEADS
                    + " heads and head width " + MAX_HEAD_DIM + " (got N=" + n + ", H=" + config.heads() + ", d="
                    + config.headDim() + ")");
        }
    }

    /** The packed key of one value: position in bits 22..61, head 12..21, channel 2..11, tensor 0..1. */
    public static long key(int tensor, long position, int head, int channel) {
        return position << 22 | (long) head << 12 | (long) channel << 2 | tensor;
    }

    /** splitmix64 of the {@code key}-th step of the stream that starts at {@code seed}. */
    public static long mix(long seed, long key) {
        long z = seed + (key + 1) * GOLDEN;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** The value of tensor {@code tensor} ({@link #Q}, {@link #K}, {@link #V}) at one position, head and channel. */
    public float value(int tensor, long position, int head, int channel) {
        long h = mix(seed, key(tensor, position, head, channel));
        int half = 1 << (bits - 1);
        return ((int) (h >>> (64 - bits)) - half) * (1f / half);
    }

    /** A draw in {@code [0, bound)} for sampling, number {@code index} of stream {@code stream}. */
    public long draw(long stream, int index, long bound) {
        return Math.floorMod(mix(seed, key(DRAWS, stream, 0, 0) ^ ((long) index << 2)), bound);
    }

    /** Positions {@code [start, start + n)} of one tensor into {@code out} ({@code [n][heads][d]}, from index 0). */
    public void fill(int tensor, long start, int n, int heads, int d, float[] out) {
        int at = 0;
        for (int p = 0; p < n; p++) {
            for (int h = 0; h < heads; h++) {
                for (int c = 0; c < d; c++) {
                    out[at++] = value(tensor, start + p, h, c);
                }
            }
        }
    }

    /**
     * Head {@code head}'s rows {@code first, first + stride, ...} ({@code count} of them) of one tensor, {@code d}
     * floats each: what a partition sends of a spanning branch, made without the rest of the partition.
     */
    public float[] rows(int tensor, long first, int stride, int count, int head, int d) {
        float[] out = new float[count * d];
        for (int i = 0; i < count; i++) {
            long p = first + (long) i * stride;
            for (int c = 0; c < d; c++) {
                out[i * d + c] = value(tensor, p, head, c);
            }
        }
        return out;
    }
}
