// The bf16 forward on sm_90a with warp specialisation (docs/ARCHITECTURE.md §5), as FlashAttention-3 arranges
// it: a producer warpgroup streams key tiles into the stage ring and gives up registers (setmaxnreg) to four
// consumer warpgroups of 64 query rows. A consumer issues tile j's S = Q K^T and tile j-1's O += P V together and
// waits for the first only; ptxas then runs the row maxima under the second and waits for it before the
// exponentials (it reuses P's fragment registers for their temporaries: keeping them live instead leaves the
// wgmma groups serialised for want of registers, its note C7511). The operations per element and their order are
// dilated_fwd_bf16's (O rescaled by tile j's factor after tile j-1's P V is added, as there), so the results are
// the same bits. Tiles that need a mask (a segment's last, causal diagonals) run synchronously after the
// overlapped ones, in a loop of their own: a tile-level branch inside the overlapped loop makes ptxas
// serialise the wgmma groups (C7520).
#pragma once
#include "dilated_fwd_kernel.h"

template <int REGS>
__device__ __forceinline__ void setmaxnreg_inc() { asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" :: "n"(REGS)); }
template <int REGS>
__device__ __forceinline__ void setmaxnreg_dec() { asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" :: "n"(REGS)); }

template <int D>
__device__ __forceinline__ void dilated_fwd_ws(const DilatedParams& p) {
    using T = WarpSpecialisedTraits<D>;
    using Mma = WarpgroupMma<D>;
    constexpr int BM = T::BLOCK_M, BN = T::BLOCK_N;
    static_assert(Mma::KV_HALVES == T::KV_HALVES, "WarpgroupMma's key tiles");
    extern __shared__ __align__(128) unsigned char smem_raw[];
    __nv_bfloat16* q_smem = reinterpret_cast<__nv_bfloat16*>(smem_raw);
    __nv_bfloat16* k_smem = q_smem + T::Q_HALVES;
    __nv_bfloat16* v_smem = k_smem + T::STAGES * T::KV_HALVES;

    const CtaWork work = cta_work(p.causal);
    const int segment = work.segment, head = work.head, i0 = work.block * BM;
    const SegmentRows sr = segment_rows<D>(p, head, segment);
    if (i0 >= sr.query_rows) return;

    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, t = lane % 4;
    const int key_end = p.causal ? min(sr.key_rows, sr.shift + i0 + BM) : sr.key_rows;
    const int tiles = (key_end + BN - 1) / BN;

    __shared__ uint64_t full[T::STAGES], empty[T::STAGES];  // kv_pipeline.h
    init_stage_barriers<T::STAGES>(full, empty, T::PRODUCER_WARPS * 32, T::WARPS);
    __syncthreads();

    if (warp >= T::WARPS) {
        setmaxnreg_dec<T::PRODUCER_REGS>();
        produce_key_tiles<D, BN, T::STAGES, Mma>(p, sr, tiles, k_smem, v_smem, full, empty, tid - T::MMA_THREADS,
                                                 T::PRODUCER_WARPS * 32);
        return;
    }
    setmaxnreg_inc<T::CONSUMER_REGS>();

    load_query_tile<D, BM, Mma>(p, sr, i0, q_smem, tid, T::MMA_THREADS);
    const typename Mma::QOperand qop = Mma::load_q(q_smem, warp, lane);
    const int group_first = i0 + warp / 4 * 64, group_last = group_first + 63;
    const int r0 = warp * 16 + lane / 4;
    const int q_row[2] = {i0 + r0, i0 + r0 + 8};

    float acc[D / 8][4];
#pragma unroll
    for (int nt = 0; nt < D / 8; nt++) acc[nt][0] = acc[nt][1] = acc[nt][2] = acc[nt][3] = 0.f;
    float row_max[2] = {-INFINITY, -INFINITY};
    float row_sum[2] = {0.f, 0.f};
    float s[BN / 8][4];
    uint32_t pf[BN / 16][4];
    float alpha[2];

    // This warpgroup's tiles: [0, clean) need no mask for any of its rows, [clean, mine) do, and the CTA's
    // later tiles (causal: past its rows' last key) are only waited for and released.
    int mine = 0, clean = 0;
    if (group_first < sr.query_rows) {
        const int last_key = p.causal ? min(sr.key_rows, sr.shift + group_last + 1) : sr.key_rows;
        const int unmasked = p.causal ? min(sr.key_rows, sr.shift + group_first + 1) : sr.key_rows;
        mine = (last_key + BN - 1) / BN;
        clean = unmasked / BN;
    }
    auto ks = [&](int it) { return k_smem + it % T::STAGES * T::KV_HALVES; };
    auto vs = [&](int it) { return v_smem + it % T::STAGES * T::KV_HALVES; };
    auto wait_full = [&](int it) { mbarrier_wait(&full[it % T::STAGES], (it / T::STAGES) & 1); };
    auto release = [&](int it) {
        __syncwarp();
        if (lane == 0) mbarrier_arrive(&empty[it % T::STAGES]);
    };

    int it = 0;
    if (clean > 0) {
        wait_full(0);
        wgmma_fence();
        Mma::issue_scores(s, qop, ks(0));
        wgmma_wait<0>();
        online_softmax<BN>(s, row_max, row_sum, p.scale_log2, alpha);
        rescale<D>(acc, alpha);
        pack_p<BN>(s, pf);
        for (it = 1; it < clean; it++) {
            wait_full(it);
            wgmma_fence();
            Mma::issue_scores(s, qop, ks(it));
            Mma::issue_accumulate(acc, pf, vs(it - 1));
            wgmma_wait<1>();  // S of tile it; tile it-1's P V may still be running
            online_softmax<BN>(s, row_max, row_sum, p.scale_log2, alpha);
            wgmma_wait<0>();
            release(it - 1);
            rescale<D>(acc, alpha);
            pack_p<BN>(s, pf);
        }
        wgmma_fence();
        Mma::issue_accumulate(acc, pf, vs(clean - 1));
        wgmma_wait<0>();
        release(clean - 1);
    }
    for (it = clean; it < mine; it++) {  // synchronous, as dilated_fwd_bf16's tiles
        wait_full(it);
        attend_tile<D, Mma>(p, sr, qop, ks(it), vs(it), it * BN, i0, warp, lane, q_row, acc, row_max, row_sum);
        release(it);
    }
    for (it = mine; it < tiles; it++) {  // every warp waits for every tile before it releases it
        wait_full(it);
        release(it);
    }
    write_rows<D>(p, sr, q_row, t, acc, row_max, row_sum);
}
