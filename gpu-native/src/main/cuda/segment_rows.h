// Which rows a CTA works on: the sparse index t of a query or key row, and its element offset. Mirrors
// io.longnet.attention.DilatedSelection, which the CPU engine and the exchange use.
#pragma once
#include "dilated_params.h"

struct SegmentRows {
    int64_t q_first;   // element offset of query row 0 (in q and o); row t at q_first + t * q_stride
    int64_t q_stride;
    int64_t k_first;   // element offset of key row 0 (in k and v)
    int64_t k_stride;
    int query_rows;    // selected query rows in this segment and block
    int key_rows;      // key rows available
    int shift;         // sparse index of query row 0 minus that of key row 0 (causal alignment)
    int64_t lse_first; // element offset of query row 0's lse; row t at lse_first + t * lse_stride
    int64_t lse_stride;
};

template <int D>
__device__ __forceinline__ SegmentRows segment_rows(const DilatedParams& p, int head, int segment) {
    SegmentRows s;
    const int off = head_offset(head, p.heads, p.r, p.offset_mode);
    const int64_t row = (int64_t)p.heads * D;  // elements per position
    if (!p.gathered) {
        const int64_t start = (int64_t)segment * p.w;
        const int len = (int)min((int64_t)p.w, (int64_t)p.n - start);
        const int count = off < len ? (len - off + p.r - 1) / p.r : 0;
        s.q_first = (start + off) * row + (int64_t)head * D;
        s.q_stride = (int64_t)p.r * row;
        s.k_first = s.q_first;
        s.k_stride = s.q_stride;
        s.query_rows = count;
        s.key_rows = count;
        s.shift = 0;
    } else {
        const int skip = off - p.offset_in_segment;
        const int first_index = skip >= 0 ? 0 : (-skip + p.r - 1) / p.r;
        const int first_row = skip + first_index * p.r;
        const int count = first_row < p.n ? (p.n - first_row + p.r - 1) / p.r : 0;
        s.q_first = (int64_t)first_row * row + (int64_t)head * D;
        s.q_stride = (int64_t)p.r * row;
        s.k_first = (int64_t)head * p.key_head_stride;
        s.k_stride = D;
        s.query_rows = count;
        s.key_rows = p.head_key_rows[head];
        s.shift = first_index;
    }
    s.lse_first = s.q_first / D;
    s.lse_stride = s.q_stride / D;
    return s;
}
