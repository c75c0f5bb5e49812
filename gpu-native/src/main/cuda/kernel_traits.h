// Tile configurations. Tensor-core kernel: 16 MMA warps (BLOCK_M = 256 query rows) for d = 64, 8 (128
// rows) otherwise, plus one producer warp that streams key tiles of BLOCK_N = 64 rows into a ring of
// STAGES shared-memory stages with cp.async (kv_pipeline.h). Shared memory is sized for the mma.sync layout
// (rows padded by 8 halves, so that the 8 row addresses of an ldmatrix fall in distinct banks); the wgmma
// layout needs less. Dynamic shared memory: the launcher (io.longnet.gpu.Precision) computes the same
// SMEM_BYTES and THREADS.
#pragma once

template <int HEAD_DIM>
struct MmaTraits {
    static constexpr int D = HEAD_DIM;
    // Every query block reads its segment's keys once, so taller blocks read less (d = 64: 256 rows took
    // config A from 60.6 to 51.8 ms on an H200); d = 32 segments are short in practice (config B was 10%
    // slower at 256), and d = 128 at 256 rows would spill: 17 warps leave 96 registers a thread.
    static constexpr int WARPS = D == 64 ? 16 : 8;  // the MMA warps
    static constexpr int MMA_THREADS = WARPS * 32;
    static constexpr int THREADS = MMA_THREADS + 32;  // and the producer warp
    static constexpr int MIN_BLOCKS = D == 32 ? 2 : 1;  // CTAs per SM the registers are budgeted for
    static constexpr int BLOCK_M = WARPS * 16;
    static constexpr int BLOCK_N = 64;
    static constexpr int STAGES = 3;
    static constexpr int STRIDE = D + 8;          // halves per shared row (Q, K and V tiles)
    static constexpr int Q_HALVES = BLOCK_M * STRIDE;
    static constexpr int KV_HALVES = BLOCK_N * STRIDE;  // one K or one V tile
    static constexpr int SMEM_BYTES = (Q_HALVES + 2 * STAGES * KV_HALVES) * 2;  // Q, the stages of K and V
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
