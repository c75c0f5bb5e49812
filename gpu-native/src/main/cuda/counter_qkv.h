// Synthetic inputs and exact checksums (docs/ARCHITECTURE.md §4, synthetic inputs): the same arithmetic as
// io.longnet.attention.CounterQkv and OutputChecksum, so that a device makes the host's inputs bit for bit
// and reduces its results to the host's checksum bits.
#pragma once

// splitmix64 of the key-th step of the stream that starts at seed.
__device__ __forceinline__ unsigned long long counter_mix(unsigned long long seed, unsigned long long key) {
    unsigned long long z = seed + (key + 1ull) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// The value of (tensor, position, head, channel): the hash's top `bits` bits as a signed integer over
// 2^(bits-1), exact in float (and in bf16 for bits <= 8). Key: position in bits 22..61, head 12..21, channel
// 2..11, tensor 0..1.
__device__ __forceinline__ float counter_value(unsigned long long seed, int bits, int tensor, long long position,
                                               int head, int channel) {
    unsigned long long key = ((unsigned long long)position << 22) | ((unsigned long long)head << 12)
                             | ((unsigned long long)channel << 2) | (unsigned long long)tensor;
    int half = 1 << (bits - 1);
    return (float)((int)(counter_mix(seed, key) >> (64 - bits)) - half) * (1.0f / (float)half);
}

// One value on the checksum's grid, rint(x * 2^24) (ties to even, as Java's Math.rint), as the unsigned
// integer whose sum modulo 2^64 is the checksum.
__device__ __forceinline__ unsigned long long checksum_term(float x) {
    return (unsigned long long)__double2ll_rn((double)x * 16777216.0);
}
