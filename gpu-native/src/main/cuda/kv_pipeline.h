// The key/value stage ring's hand-offs: shared-memory mbarriers (sm_90 PTX) between the producer warp that
// fills a stage and the MMA warps that read it (docs/ARCHITECTURE.md §5). A stage has two barriers: "full"
// (the producer's 32 lanes arrive once their copies have landed) and "empty" (every MMA warp arrives once
// it is done with the tile). Arrive releases and the wait acquires at CTA scope, so no block-wide barrier
// orders the warps: they may drift apart by up to STAGES - 1 tiles.
#pragma once
#include <stdint.h>
#include "mma.h"
#include "wgmma.h"

__device__ __forceinline__ void mbarrier_init(uint64_t* bar, int arrivals) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" :: "r"(smem_addr(bar)), "r"(arrivals) : "memory");
}

__device__ __forceinline__ void mbarrier_arrive(uint64_t* bar) {
    asm volatile("{\n.reg .b64 state;\nmbarrier.arrive.shared::cta.b64 state, [%0];\n}\n"
                 :: "r"(smem_addr(bar)) : "memory");
}

// Returns once the barrier's phase of the given parity has completed.
__device__ __forceinline__ void mbarrier_wait(uint64_t* bar, int parity) {
    asm volatile("{\n.reg .pred done;\nWAIT:\n"
                 "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
                 "@!done bra WAIT;\n}\n"
                 :: "r"(smem_addr(bar)), "r"(parity) : "memory");
}

// Thread 0 sets up a ring of STAGES stages: "full" awaits the copying lanes, "empty" the MMA warps. The
// caller's block-wide barrier then makes them visible to every thread.
template <int STAGES>
__device__ __forceinline__ void init_stage_barriers(uint64_t* full, uint64_t* empty, int copying_lanes, int mma_warps) {
    if (threadIdx.x == 0) {
        for (int st = 0; st < STAGES; st++) {
            mbarrier_init(&full[st], copying_lanes);
            mbarrier_init(&empty[st], mma_warps);
        }
    }
}

// A producer lane hands over its copies: once all but its newest PENDING cp.async groups have landed, they
// are made visible to the tensor cores' proxy (wgmma reads shared memory through it) and the lane arrives
// on `bar`.
template <int PENDING>
__device__ __forceinline__ void publish_copies(uint64_t* bar) {
    cp_async_wait<PENDING>();
    fence_proxy_async();
    mbarrier_arrive(bar);
}

// A barrier among the first `threads` threads of the CTA only (the MMA warps; the producer warp is in none).
__device__ __forceinline__ void named_barrier_sync(int id, int threads) {
    asm volatile("bar.sync %0, %1;\n" :: "r"(id), "r"(threads) : "memory");
}
