// Parameters of one dilated-attention branch launch: everything the kernels read, packed by the Java
// launcher (io.longnet.gpu.LaunchParams) in exactly this order. One CTA attends BLOCK_M query rows of one
// sparsified segment of one head; grid = (segments, heads, query blocks) (io.longnet.gpu.LaunchGeometry);
// which of them a CTA takes: cta_work.
#pragma once
#include <stdint.h>

struct DilatedParams {
    const void* q;        // [N][H][D] queries of the block (bf16 or fp32)
    const void* k;        // keys: [N][H][D] in place, or per-head compact rows when gathered
    const void* v;        // values, laid out like k
    float* o;             // [N][H][D] fp32 output, merged by lse into what earlier branches wrote
    float* lse;           // [N][H] fp32
    const int32_t* head_key_rows;  // gathered: key rows of each head (heads' offsets differ); else null
    int32_t n;            // positions of q/o in this launch
    int32_t heads;        // H
    int32_t w;            // segment length
    int32_t r;            // dilation
    int32_t offset_mode;  // 0: head h uses offset h mod r (the paper); 1: contiguous groups of ceil(H/r)
    int32_t causal;       // 1: query row t sees key rows <= t
    int32_t gathered;     // 0: keys in place; 1: keys gathered from other partitions (compact rows)
    int32_t offset_in_segment;  // gathered: the block's first position, counted in its segment
    int32_t key_head_stride;    // gathered: elements between heads' compact rows
    int32_t first;        // 1: no earlier branch wrote o/lse: write instead of merging
    float scale_log2;     // log2(e) / sqrt(D): scores in the exp2 domain
};

// Offset of head h in a branch of dilation r.
__device__ __forceinline__ int head_offset(int h, int heads, int r, int mode) {
    if (mode == 0) return h % r;
    int group = (heads + r - 1) / r;
    return h / group;
}

// The CTA's segment, head and query block. CTAs start in the order of blockIdx.x, then y, then z.
// Non-causal: taken from the CTA's place in that order, a segment's query blocks, then its heads, next to each
// other, so that they read the segment's keys and values while the L2 cache still holds them (config A at 1M
// 2-6% faster on an H200 than blockIdx.x as the segment, whose query blocks started a grid row apart and
// fetched the same keys from memory again). Causal: the grid coordinates, the query blocks slowest and counted
// backwards, so that the heaviest (a segment's last blocks see the most keys) start first and the light ones
// make the grid's tail (the L2 order made causal config A at 32K 14% slower).
struct CtaWork { int segment, head, block; };
__device__ __forceinline__ CtaWork cta_work(bool causal) {
    CtaWork w;
    if (causal) {
        w.segment = blockIdx.x;
        w.head = blockIdx.y;
        w.block = gridDim.z - 1 - blockIdx.z;
        return w;
    }
    const long long linear = blockIdx.x + (long long)gridDim.x * (blockIdx.y + (long long)gridDim.y * blockIdx.z);
    const long long rest = linear / gridDim.z;
    w.block = (int)(linear - rest * gridDim.z);
    w.head = (int)(rest % gridDim.y);
    w.segment = (int)(rest / gridDim.y);
    return w;
}
