// Tile configurations. Tensor-core kernel: 4 warps, each 16 query rows (BLOCK_M = 64), key tiles of
// BLOCK_N = 64; shared rows padded by 8 halves so that the mma fragment loads spread over the banks.
#pragma once

template <int HEAD_DIM>
struct MmaTraits {
    static constexpr int D = HEAD_DIM;
    static constexpr int WARPS = 4;
    static constexpr int THREADS = WARPS * 32;
    static constexpr int BLOCK_M = WARPS * 16;
    static constexpr int BLOCK_N = 64;
    static constexpr int PAD = 8;                 // halves
    static constexpr int KSTRIDE = D + PAD;       // K tile row stride (halves), key-major
    static constexpr int VSTRIDE = BLOCK_N + PAD; // V tile row stride (halves), dim-major (transposed)
    static constexpr int SMEM_HALVES = BLOCK_N * KSTRIDE + D * VSTRIDE;
    static_assert(D % 16 == 0, "head width must be a multiple of 16");
};

// fp32 kernel (exact path, CUDA cores): 4 lanes share one query row, each holding D/4 channels;
// 32 query rows per CTA, key tiles of 32.
template <int HEAD_DIM>
struct F32Traits {
    static constexpr int D = HEAD_DIM;
    static constexpr int LANES = 4;
    static constexpr int PART = D / LANES;
    static constexpr int BLOCK_M = 32;
    static constexpr int THREADS = BLOCK_M * LANES;
    static constexpr int BLOCK_N = 32;
    static_assert(D % LANES == 0, "head width must be a multiple of 4");
};
