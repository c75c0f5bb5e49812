// Tile configurations. Tensor-core kernel: 16 MMA warps (BLOCK_M = 256 query rows) for d = 64, 8 (128
// rows) otherwise, plus one producer warp that streams key tiles of BLOCK_N = 64 rows into a ring of
// STAGES shared-memory stages with cp.async (kv_pipeline.h). Shared memory is sized for the mma.sync layout
// (rows padded by 8 halves, so that the 8 row addresses of an ldmatrix fall in distinct banks); the wgmma
// layout needs less. THREADS, BLOCK_M and SMEM_BYTES reach the launcher through the module
// (dilated_fwd_launch.cu's NAME_shape).
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
    static constexpr int SMEM_BYTES = 0;  // static shared tiles only
    static_assert(D % LANES == 0, "head width must be a multiple of 4");
};

// The warp-specialised bf16 kernel on sm_90a (dilated_fwd_ws_kernel.h): four consumer warpgroups of 64 query
// rows (BLOCK_M = 256) and a producer warpgroup whose warps stream the key tiles. setmaxnreg moves registers
// from the producers to the consumers, which hold a tile's scores, its P and the accumulator at once so that
// the products of one tile overlap the softmax of the next. 640 threads launch at 96 registers; the
// producers keep 32, the consumers get 112 (32 x 128 + 112 x 512 <= 65,536). The key tiles and their layout
// are WarpgroupMma's, so the products, and the results, are the other kernel's bit for bit.
template <int HEAD_DIM>
struct WarpSpecialisedTraits {
    static constexpr int D = HEAD_DIM;
    static constexpr int CONSUMERS = 4;               // warpgroups that multiply
    static constexpr int WARPS = CONSUMERS * 4;       // MMA warps: each stage's "empty" arrivals
    static constexpr int MMA_THREADS = WARPS * 32;
    static constexpr int PRODUCER_WARPS = 4;          // the producer warpgroup, all of it copying
    static constexpr int THREADS = MMA_THREADS + PRODUCER_WARPS * 32;
    static constexpr int PRODUCER_REGS = 32;
    static constexpr int CONSUMER_REGS = 112;
    static constexpr int BLOCK_M = CONSUMERS * 64;
    static constexpr int BLOCK_N = MmaTraits<D>::BLOCK_N;
    static constexpr int STAGES = 4;                  // 5 and 6 measured level (docs/BENCHMARKS.md)
    static constexpr int Q_HALVES = BLOCK_M * D;      // unpadded rows: the wgmma layout
    static constexpr int KV_HALVES = BLOCK_N * D;
    static constexpr int SMEM_BYTES = (Q_HALVES + 2 * STAGES * KV_HALVES) * 2;
    static_assert(PRODUCER_REGS * PRODUCER_WARPS * 32 + CONSUMER_REGS * MMA_THREADS <= 65536, "the register file");
};
