// The math of the dilated-attention forward for one branch (docs/ARCHITECTURE.md §1): a CTA attends one tile of
// query rows of one sparsified segment of one head, flash-style (online softmax over key tiles, kept on
// chip), reading the dilated rows straight from the [N][H][D] layout (or from gathered compact rows),
// and merges its result into o/lse by lse. Launch logic lives in dilated_fwd_launch.cu.
#pragma once
#include <cuda_bf16.h>
#include "dilated_params.h"
#include "kernel_traits.h"
#include "lse_merge.h"
#include "mma.h"
#include "wgmma.h"
#include "segment_rows.h"
#include "kv_pipeline.h"

// 2^x on the special-function unit, subnormal results flushed to zero: the softmax's weights below 2^-126
// vanish (they could not survive the bf16 rounding of P anyway), and the fix-up instructions of exp2f for
// subnormals are saved (3% of config A on an H200).
__device__ __forceinline__ float exp2_ftz(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

// Merges one row part (value pairs owned by this lane) into o/lse. All lanes of the warp call it (it
// synchronises the warp between reading the old lse and writing the new one).
__device__ __forceinline__ void merge_row_part(const DilatedParams& p, bool valid, int64_t lse_at,
                                               float part_lse, bool writes_lse, float* w_acc, float* w_part,
                                               float* new_lse) {
    float old = -INFINITY;
    if (valid && !p.first) old = p.lse[lse_at];
    *new_lse = p.first ? part_lse : lse_merge_weights(old, part_lse, w_acc, w_part);
    if (p.first) { *w_acc = 0.f; *w_part = 1.f; }
    __syncwarp();
    if (valid && writes_lse) p.lse[lse_at] = *new_lse;
}

// ---------------------------------------------------------------------------------------------------
// bf16 inputs on tensor cores, fp32 softmax and accumulation; K/V tiles stream through a ring of
// MmaTraits::STAGES shared stages filled by cp.async ahead of the tile being multiplied. The two products of a key tile come from an MMA
// policy: WarpMma (mma.sync, each warp its own 16 query rows; any sm_80+ chip) or WarpgroupMma (wgmma,
// each warpgroup 64 rows; sm_90a). Both leave the scores and the output in mma.sync's C-fragment layout,
// so the online softmax and the epilogue below are one code.

// S = Q K^T for this warp's 16 rows: ldmatrix gives the B fragments of two key groups per call.
template <int D>
struct WarpMma {
    using T = MmaTraits<D>;
    static constexpr int GROUP_ROWS = 16;  // query rows that multiply together (one warp)
    static constexpr int KV_HALVES = T::KV_HALVES;
    // Element (row, c) of a Q, K or V tile: row-major, rows padded (MmaTraits::STRIDE) so that ldmatrix's
    // 8 rows hit distinct banks.
    static __device__ __forceinline__ int kv_at(int row, int c) { return row * T::STRIDE + c; }
    static __device__ __forceinline__ int q_at(int row, int c) { return kv_at(row, c); }

    // This warp's 16 query rows as A fragments, held in registers for the whole loop.
    struct QOperand { uint32_t f[D / 16][4]; };
    static __device__ __forceinline__ QOperand load_q(const __nv_bfloat16* q_smem, int warp, int lane) {
        QOperand q;
#pragma unroll
        for (int kc = 0; kc < D / 16; kc++)
            ldmatrix_x4(q.f[kc], &q_smem[(warp * 16 + (lane / 8 % 2) * 8 + lane % 8) * T::STRIDE + kc * 16 + (lane / 16) * 8]);
        return q;
    }

    static __device__ __forceinline__ void scores(float s[T::BLOCK_N / 8][4], const QOperand& q,
                                                  const __nv_bfloat16* ks, int lane) {
#pragma unroll
        for (int kc = 0; kc < D / 16; kc++)
#pragma unroll
            for (int nt = 0; nt < T::BLOCK_N / 8; nt += 2) {
                uint32_t b[4];  // (nt, k 0-7), (nt, k 8-15), (nt+1, k 0-7), (nt+1, k 8-15)
                ldmatrix_x4(b, &ks[(nt * 8 + (lane / 16) * 8 + lane % 8) * T::STRIDE + kc * 16 + (lane / 8 % 2) * 8]);
                mma_16816(s[nt], q.f[kc], b);
                mma_16816(s[nt + 1], q.f[kc], b + 2);
            }
    }

    // O += P V: ldmatrix.trans reads V (key-major) as the B fragments of two dim groups per call.
    static __device__ __forceinline__ void accumulate(float acc[D / 8][4], const uint32_t pf[T::BLOCK_N / 16][4],
                                                      const __nv_bfloat16* vs, int lane) {
#pragma unroll
        for (int kk = 0; kk < T::BLOCK_N / 16; kk++)
#pragma unroll
            for (int nt = 0; nt < D / 8; nt += 2) {
                uint32_t b[4];  // (keys 0-7, dims nt), (keys 8-15, dims nt), (keys 0-7, nt+1), (keys 8-15, nt+1)
                ldmatrix_x4_trans(b, &vs[(kk * 16 + (lane / 8 % 2) * 8 + lane % 8) * T::STRIDE + nt * 8 + (lane / 16) * 8]);
                mma_16816(acc[nt], pf[kk], b);
                mma_16816(acc[nt + 1], pf[kk], b + 2);
            }
    }
};

// The same products with wgmma: operands straight from shared memory through descriptors, Q, K and V tiles
// stored as wgmma's core matrices (8 rows x 8 halves, 128 contiguous bytes): element (row, c) at
// [row / 8][c / 8][row % 8][c % 8]. S = Q K^T reads both from shared memory (K-major: head dims
// contiguous); O += P V takes P from registers (mma.sync's A-fragment layout) and V "MN-major" (a
// transposed read).
template <int D>
struct WarpgroupMma {
    using T = MmaTraits<D>;
    static constexpr int GROUP_ROWS = 64;  // a warpgroup of 4 warps
    static constexpr int KV_HALVES = T::BLOCK_N * D;
    static constexpr uint32_t CORE_BYTES = 128;          // one core matrix
    static constexpr uint32_t ROW_GROUP_BYTES = 16 * D;  // 8 rows of all D channels
    static __device__ __forceinline__ int kv_at(int row, int c) {
        return (row / 8) * (8 * D) + (c / 8) * 64 + (row % 8) * 8 + c % 8;
    }
    static __device__ __forceinline__ int q_at(int row, int c) { return kv_at(row, c); }

    // This warpgroup's 64 query rows, in shared memory for the whole loop: its descriptor's low word.
    struct QOperand { uint32_t lo; };
    static __device__ __forceinline__ QOperand load_q(const __nv_bfloat16* q_smem, int warp, int) {
        return {wgmma_desc_lo(q_smem + (warp / 4) * GROUP_ROWS * D, CORE_BYTES)};
    }

    // A step through a tile, in the descriptor's 16-byte address units (wgmma_desc_lo).
    static __host__ __device__ constexpr uint32_t step(int halves) { return (uint32_t)(halves * 2 / 16); }

    // S = Q K^T and O += P V issued and committed as one wgmma group each, not waited for: the warp-specialised
    // kernel overlaps them with a softmax (dilated_fwd_ws_kernel.h). The first step of S ignores what s held.
    static __device__ __forceinline__ void issue_scores(float s[T::BLOCK_N / 8][4], const QOperand& q,
                                                        const __nv_bfloat16* ks) {
        const uint32_t k_lo = wgmma_desc_lo(ks, CORE_BYTES);
#pragma unroll
        for (int kc = 0; kc < D / 16; kc++)  // head dims 16kc..16kc+15: core matrices 2kc, 2kc+1 along K
            Wgmma<T::BLOCK_N>::mma_ss(&s[0][0], wgmma_desc_of<ROW_GROUP_BYTES>(q.lo + step(kc * 128)),
                                      wgmma_desc_of<ROW_GROUP_BYTES>(k_lo + step(kc * 128)), kc > 0);
        wgmma_commit();
    }

    static __device__ __forceinline__ void issue_accumulate(float acc[D / 8][4], const uint32_t pf[T::BLOCK_N / 16][4],
                                                            const __nv_bfloat16* vs) {
        const uint32_t v_lo = wgmma_desc_lo(vs, ROW_GROUP_BYTES);
#pragma unroll
        for (int kk = 0; kk < T::BLOCK_N / 16; kk++)  // keys 16kk..16kk+15: row groups 2kk, 2kk+1 along K
            Wgmma<D>::template mma<1>(&acc[0][0], pf[kk], wgmma_desc_of<CORE_BYTES>(v_lo + step(kk * 16 * D)));
        wgmma_commit();
    }

    static __device__ __forceinline__ void scores(float s[T::BLOCK_N / 8][4], const QOperand& q,
                                                  const __nv_bfloat16* ks, int) {
        wgmma_fence();
        issue_scores(s, q, ks);
        wgmma_wait<0>();
    }

    static __device__ __forceinline__ void accumulate(float acc[D / 8][4], const uint32_t pf[T::BLOCK_N / 16][4],
                                                      const __nv_bfloat16* vs, int) {
        wgmma_fence();
        issue_accumulate(acc, pf, vs);
        wgmma_wait<0>();
    }
};

// -inf for the scores of absent keys and, when causal, of keys after the query: what a tile at an edge needs.
// This lane's rows are q_row[0] (s[][0..1]) and q_row[1] (s[][2..3]).
template <int BN>
__device__ __forceinline__ void mask_scores(float s[BN / 8][4], const DilatedParams& p, const SegmentRows& sr,
                                            int j0, const int q_row[2], int t) {
#pragma unroll
    for (int nt = 0; nt < BN / 8; nt++)
#pragma unroll
        for (int e = 0; e < 4; e++) {
            const int key = j0 + nt * 8 + 2 * t + (e & 1);
            if (key >= sr.key_rows || (p.causal && key > q_row[e >> 1] + sr.shift)) s[nt][e] = -INFINITY;
        }
}

// Online softmax of one tile's scores for this lane's two rows: each row's maximum moves to the tile's, its
// sum is rescaled and the exponentials (in place of the scores) added to it. Scores stay unscaled until here:
// the scale goes into the exp2 argument, one FMA per element. alpha[h] is what row h's accumulator must be
// multiplied by (rescale), which the warp-specialised kernel does once its accumulator is off the tensor cores.
template <int BN>
__device__ __forceinline__ void online_softmax(float s[BN / 8][4], float row_max[2], float row_sum[2],
                                               float scale_log2, float alpha[2]) {
#pragma unroll
    for (int h = 0; h < 2; h++) {
        // A tree, not a chain: the same maximum (max is exact), fewer dependent steps. Each level's trip count
        // is a constant: a halving loop is left rolled, with m[] in local memory.
        float m[BN / 8];
#pragma unroll
        for (int nt = 0; nt < BN / 8; nt++) m[nt] = fmaxf(s[nt][2 * h], s[nt][2 * h + 1]);
#pragma unroll
        for (int level = 1; level < BN / 8; level *= 2)
#pragma unroll
            for (int nt = 0; nt < BN / 16 / level; nt++) m[nt] = fmaxf(m[nt], m[nt + BN / 16 / level]);
        float mx = m[0];
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffff, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffff, mx, 2));
        // Maxima are kept in the scaled exp2 domain (scale_log2 > 0 preserves the order).
        const float new_max = fmaxf(row_max[h], mx * scale_log2);
        const float ref = new_max == -INFINITY ? 0.f : new_max;  // rows with no visible key yet
        alpha[h] = exp2_ftz(row_max[h] - ref);
        row_max[h] = new_max;
        row_sum[h] *= alpha[h];
#pragma unroll
        for (int nt = 0; nt < BN / 8; nt++) {
            s[nt][2 * h] = exp2_ftz(fmaf(s[nt][2 * h], scale_log2, -ref));
            s[nt][2 * h + 1] = exp2_ftz(fmaf(s[nt][2 * h + 1], scale_log2, -ref));
            row_sum[h] += s[nt][2 * h] + s[nt][2 * h + 1];
        }
    }
}

template <int D>
__device__ __forceinline__ void rescale(float acc[D / 8][4], const float alpha[2]) {
#pragma unroll
    for (int nt = 0; nt < D / 8; nt++) {
        acc[nt][0] *= alpha[0];
        acc[nt][1] *= alpha[0];
        acc[nt][2] *= alpha[1];
        acc[nt][3] *= alpha[1];
    }
}

// The S accumulators of two adjacent key groups are exactly an A fragment of P.
template <int BN>
__device__ __forceinline__ void pack_p(const float s[BN / 8][4], uint32_t pf[BN / 16][4]) {
#pragma unroll
    for (int kk = 0; kk < BN / 16; kk++) {
        pf[kk][0] = pack_bf16(s[2 * kk][0], s[2 * kk][1]);
        pf[kk][1] = pack_bf16(s[2 * kk][2], s[2 * kk][3]);
        pf[kk][2] = pack_bf16(s[2 * kk + 1][0], s[2 * kk + 1][1]);
        pf[kk][3] = pack_bf16(s[2 * kk + 1][2], s[2 * kk + 1][3]);
    }
}

// One key tile for this warp's 16 query rows (i0 + warp * 16 + g, + 8): S = Q K^T, the edge masks, the
// online softmax, O += P V.
template <int D, typename Mma>
__device__ __forceinline__ void attend_tile(const DilatedParams& p, const SegmentRows& sr,
                                            const typename Mma::QOperand& qop, const __nv_bfloat16* ks,
                                            const __nv_bfloat16* vs, int j0, int i0, int warp, int lane,
                                            const int q_row[2], float acc[D / 8][4], float row_max[2],
                                            float row_sum[2]) {
    constexpr int BN = MmaTraits<D>::BLOCK_N;
    float s[BN / 8][4];
#pragma unroll
    for (int nt = 0; nt < BN / 8; nt++) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.f;
    Mma::scores(s, qop, ks, lane);
    // Only tiles at an edge need masks.
    if (j0 + BN > sr.key_rows || (p.causal && j0 + BN - 1 > sr.shift + i0 + warp * 16))
        mask_scores<BN>(s, p, sr, j0, q_row, lane % 4);
    float alpha[2];
    online_softmax<BN>(s, row_max, row_sum, p.scale_log2, alpha);
    rescale<D>(acc, alpha);
    uint32_t pf[BN / 16][4];
    pack_p<BN>(s, pf);
    Mma::accumulate(acc, pf, vs, lane);
}

// The 16-byte chunk `idx` of a tile of rows of D halves that its copies go through: consecutive indices
// take consecutive rows of one 16-byte column, so that the shared-memory writes of consecutive lanes are
// contiguous in either MMA policy's 8-row groups. chunk_row is the row, chunk_col its first half.
template <int D>
__device__ __forceinline__ int chunk_row(int idx) { return (idx / D) * 8 + idx % 8; }
template <int D>
__device__ __forceinline__ int chunk_col(int idx) { return (idx / 8 % (D / 8)) * 8; }

// The producer's side of the stage ring (kv_pipeline.h): key tile `it` goes into stage it % STAGES once every
// MMA warp has released the tile that stage held. The copying lanes (index `lane` of `lanes`) split each tile's
// 16-byte chunks; each waits for its own copies, makes them visible to the tensor cores' proxy, then arrives
// on the stage's "full" barrier, one tile behind the copies it has in flight.
template <int D, int BN, int STAGES, typename Layout>
__device__ __forceinline__ void produce_key_tiles(const DilatedParams& p, const SegmentRows& sr, int tiles,
                                                  __nv_bfloat16* k_smem, __nv_bfloat16* v_smem, uint64_t* full,
                                                  uint64_t* empty, int lane, int lanes) {
    const __nv_bfloat16* k = static_cast<const __nv_bfloat16*>(p.k);
    const __nv_bfloat16* v = static_cast<const __nv_bfloat16*>(p.v);
    for (int it = 0; it < tiles; it++) {
        const int stage = it % STAGES;
        if (it >= STAGES) mbarrier_wait(&empty[stage], (it / STAGES + 1) & 1);
        __nv_bfloat16* ks = k_smem + stage * Layout::KV_HALVES;
        __nv_bfloat16* vs = v_smem + stage * Layout::KV_HALVES;
        for (int idx = lane; idx < BN * (D / 8); idx += lanes) {
            const int row = chunk_row<D>(idx), c = chunk_col<D>(idx);
            const int key = it * BN + row;
            const bool in = key < sr.key_rows;  // absent rows as zeros
            const int64_t at = in ? sr.k_first + (int64_t)key * sr.k_stride + c : 0;
            cp_async_16(&ks[Layout::kv_at(row, c)], k + at, in);
            cp_async_16(&vs[Layout::kv_at(row, c)], v + at, in);
        }
        cp_async_commit();
        if (it > 0) publish_copies<1>(&full[(it - 1) % STAGES]);
    }
    if (tiles > 0) publish_copies<0>(&full[(tiles - 1) % STAGES]);
}

// The CTA's BM query rows from i0 into shared memory, by the `threads` MMA threads, visible to the tensor cores'
// proxy and to all of those threads (named barrier 1) on return.
template <int D, int BM, typename Layout>
__device__ __forceinline__ void load_query_tile(const DilatedParams& p, const SegmentRows& sr, int i0,
                                                __nv_bfloat16* q_smem, int tid, int threads) {
    const __nv_bfloat16* q = static_cast<const __nv_bfloat16*>(p.q);
    for (int idx = tid; idx < BM * (D / 8); idx += threads) {
        const int row = chunk_row<D>(idx), c = chunk_col<D>(idx);
        const bool in = i0 + row < sr.query_rows;
        cp_async_16(&q_smem[Layout::q_at(row, c)], q + (in ? sr.q_first + (int64_t)(i0 + row) * sr.q_stride + c : 0), in);
    }
    cp_async_commit();
    cp_async_wait<0>();
    fence_proxy_async();
    named_barrier_sync(1, threads);
}

// Epilogue of a lane's two rows: normalise, then merge with earlier branches by lse.
template <int D>
__device__ __forceinline__ void write_rows(const DilatedParams& p, const SegmentRows& sr, const int q_row[2], int t,
                                          const float acc[D / 8][4], const float row_max[2], const float row_sum[2]) {
#pragma unroll
    for (int h = 0; h < 2; h++) {
        float l = row_sum[h];
        l += __shfl_xor_sync(0xffffffff, l, 1);
        l += __shfl_xor_sync(0xffffffff, l, 2);
        const bool valid = q_row[h] < sr.query_rows;
        const float part_lse = (row_max[h] + log2f(l)) * 0.69314718055994531f;
        const int64_t lse_at = sr.lse_first + (int64_t)q_row[h] * sr.lse_stride;
        float w_acc, w_part, new_lse;
        merge_row_part(p, valid, lse_at, part_lse, t == 0, &w_acc, &w_part, &new_lse);
        if (valid) {
            const float inv = w_part / l;
            float* o = p.o + sr.q_first + (int64_t)q_row[h] * sr.q_stride;
#pragma unroll
            for (int nt = 0; nt < D / 8; nt++) {
                float2* at = reinterpret_cast<float2*>(o + nt * 8 + 2 * t);
                float2 prev = p.first ? make_float2(0.f, 0.f) : *at;
                *at = make_float2(w_acc * prev.x + inv * acc[nt][2 * h], w_acc * prev.y + inv * acc[nt][2 * h + 1]);
            }
        }
    }
}

template <int D, typename Mma>
__device__ __forceinline__ void dilated_fwd_bf16(const DilatedParams& p) {
    using T = MmaTraits<D>;
    constexpr int BM = T::BLOCK_M, BN = T::BLOCK_N;
    extern __shared__ __align__(128) unsigned char smem_raw[];
    __nv_bfloat16* q_smem = reinterpret_cast<__nv_bfloat16*>(smem_raw);
    __nv_bfloat16* k_smem = q_smem + T::Q_HALVES;                // T::STAGES stages
    __nv_bfloat16* v_smem = k_smem + T::STAGES * Mma::KV_HALVES;

    const CtaWork work = cta_work(p.causal);
    const int segment = work.segment, head = work.head, i0 = work.block * BM;
    const SegmentRows sr = segment_rows<D>(p, head, segment);
    if (i0 >= sr.query_rows) return;  // the whole CTA: ragged segments have fewer rows

    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, g = lane / 4;
    const int key_end = p.causal ? min(sr.key_rows, sr.shift + i0 + BM) : sr.key_rows;
    const int tiles = (key_end + BN - 1) / BN;
    // This thread's MMA group (a warp or a warpgroup) and its query rows [group_first, group_last].
    const int group_first = i0 + (warp * 16 / Mma::GROUP_ROWS) * Mma::GROUP_ROWS;
    const int group_last = group_first + Mma::GROUP_ROWS - 1;

    __shared__ uint64_t full[T::STAGES], empty[T::STAGES];  // kv_pipeline.h
    init_stage_barriers<T::STAGES>(full, empty, 32, T::WARPS);
    __syncthreads();  // the barriers initialised; the last block-wide barrier

    if (warp == T::WARPS) {  // the producer warp
        produce_key_tiles<D, BN, T::STAGES, Mma>(p, sr, tiles, k_smem, v_smem, full, empty, lane, 32);
        return;
    }

    load_query_tile<D, BM, Mma>(p, sr, i0, q_smem, tid, T::MMA_THREADS);
    const typename Mma::QOperand qop = Mma::load_q(q_smem, warp, lane);
    const int r0 = warp * 16 + g;

    float acc[D / 8][4];
#pragma unroll
    for (int nt = 0; nt < D / 8; nt++) acc[nt][0] = acc[nt][1] = acc[nt][2] = acc[nt][3] = 0.f;
    float row_max[2] = {-INFINITY, -INFINITY};
    float row_sum[2] = {0.f, 0.f};  // this lane's partial sums; the quad adds them up at the end
    const int q_row[2] = {i0 + r0, i0 + r0 + 8};

    for (int it = 0; it < tiles; it++) {
        const int stage = it % T::STAGES;
        const int j0 = it * BN;
        // Every warp waits for every tile before it releases it: a release may not run ahead of the
        // barrier's phase. A group whose rows all precede this tile (causal) or lie past the segment's end
        // has nothing to add.
        mbarrier_wait(&full[stage], (it / T::STAGES) & 1);
        if (group_first < sr.query_rows && !(p.causal && j0 > sr.shift + group_last)) {
            const __nv_bfloat16* ks = k_smem + stage * Mma::KV_HALVES;
            const __nv_bfloat16* vs = v_smem + stage * Mma::KV_HALVES;
            attend_tile<D, Mma>(p, sr, qop, ks, vs, j0, i0, warp, lane, q_row, acc, row_max, row_sum);
        }
        __syncwarp();
        if (lane == 0) mbarrier_arrive(&empty[stage]);
    }
    write_rows<D>(p, sr, q_row, lane % 4, acc, row_max, row_sum);
}

// ---------------------------------------------------------------------------------------------------
// fp32 inputs on CUDA cores: the exact path (float arithmetic throughout, as the CPU engine). Four lanes
// share a query row, lane c4 holding channels c4, c4 + 4, ... so that a warp reads shared rows without
// bank conflicts.
template <int D>
__device__ __forceinline__ void dilated_fwd_f32(const DilatedParams& p) {
    using T = F32Traits<D>;
    constexpr int BM = T::BLOCK_M, BN = T::BLOCK_N, PART = T::PART;
    __shared__ float ks[BN][D];
    __shared__ float vs[BN][D];

    const CtaWork work = cta_work(p.causal);
    const int segment = work.segment, head = work.head, i0 = work.block * BM;
    const SegmentRows sr = segment_rows<D>(p, head, segment);
    if (i0 >= sr.query_rows) return;

    const int tid = threadIdx.x, lane4 = tid % T::LANES, qi = i0 + tid / T::LANES;
    const bool valid = qi < sr.query_rows;
    const float* q = static_cast<const float*>(p.q);
    const float* k = static_cast<const float*>(p.k);
    const float* v = static_cast<const float*>(p.v);
    const float scale = 0.69314718055994531f * p.scale_log2;  // back to 1/sqrt(D)

    float qr[PART], acc[PART];
#pragma unroll
    for (int c = 0; c < PART; c++) {
        qr[c] = valid ? q[sr.q_first + (int64_t)qi * sr.q_stride + c * T::LANES + lane4] * scale : 0.f;
        acc[c] = 0.f;
    }
    float row_max = -INFINITY, row_sum = 0.f;
    const int key_end = p.causal ? min(sr.key_rows, sr.shift + i0 + BM) : sr.key_rows;
    for (int j0 = 0; j0 < key_end; j0 += BN) {
        __syncthreads();
        for (int idx = tid; idx < BN * D; idx += T::THREADS) {
            const int row = idx / D, c = idx % D;
            const bool in = j0 + row < sr.key_rows;
            const int64_t at = sr.k_first + (int64_t)(j0 + row) * sr.k_stride + c;
            ks[row][c] = in ? k[at] : 0.f;
            vs[row][c] = in ? v[at] : 0.f;
        }
        __syncthreads();
        const int jn = min(BN, key_end - j0);
        for (int j = 0; j < jn; j++) {
            float part = 0.f;
#pragma unroll
            for (int c = 0; c < PART; c++) part = fmaf(qr[c], ks[j][c * T::LANES + lane4], part);
            part += __shfl_xor_sync(0xffffffff, part, 1);
            part += __shfl_xor_sync(0xffffffff, part, 2);
            if (p.causal && j0 + j > qi + sr.shift) continue;
            // Online softmax one key at a time; exact expf, as the reference.
            if (part > row_max) {
                const float alpha = expf(row_max - part);
                row_sum = row_sum * alpha + 1.f;
#pragma unroll
                for (int c = 0; c < PART; c++) acc[c] = fmaf(acc[c], alpha, vs[j][c * T::LANES + lane4]);
                row_max = part;
            } else {
                const float e = expf(part - row_max);
                row_sum += e;
#pragma unroll
                for (int c = 0; c < PART; c++) acc[c] = fmaf(e, vs[j][c * T::LANES + lane4], acc[c]);
            }
        }
    }
    const float part_lse = row_max + logf(row_sum);
    const int64_t lse_at = sr.lse_first + (int64_t)qi * sr.lse_stride;
    float w_acc, w_part, new_lse;
    merge_row_part(p, valid, lse_at, part_lse, lane4 == 0, &w_acc, &w_part, &new_lse);
    if (valid) {
        const float inv = w_part / row_sum;
        float* o = p.o + sr.q_first + (int64_t)qi * sr.q_stride;
#pragma unroll
        for (int c = 0; c < PART; c++) {
            float* at = o + c * T::LANES + lane4;
            const float prev = p.first ? 0.f : *at;
            *at = w_acc * prev + inv * acc[c];
        }
    }
}
