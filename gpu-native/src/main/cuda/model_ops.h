// The math of the model kernels, apart from their launch (model_launch.cu). Each function mirrors the
// CPU model (io.longnet.model.RowOps, Gelu, Xpos) and says where it differs.
#pragma once
#include <cuda_bf16.h>
#include <stdint.h>
#include <type_traits>

template <typename T> __device__ __forceinline__ T from_float(float x);
template <> __device__ __forceinline__ float from_float<float>(float x) { return x; }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }
__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }

__device__ __forceinline__ double warp_sum(double v) {
    for (int s = 16; s > 0; s >>= 1) v += __shfl_xor_sync(0xffffffffu, v, s);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int s = 16; s > 0; s >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, s));
    return v;
}

// torch.nn.LayerNorm of one row of `width` values by one warp: biased variance, eps inside the square
// root; statistics in double as RowOps.layerNorm (two passes: mean, then centred squares). y may be x:
// each lane reads its elements before it writes them. Loops unrolled by 4, for more loads in flight per
// lane.
template <typename OUT>
__device__ __forceinline__ void layer_norm_row(const float* x, const float* g, const float* b, OUT* y,
                                               int width, double eps, int lane) {
    double sum = 0;
#pragma unroll 4
    for (int k = lane; k < width; k += 32) sum += x[k];
    const double mean = warp_sum(sum) / width;
    double sq = 0;
#pragma unroll 4
    for (int k = lane; k < width; k += 32) {
        const double c = x[k] - mean;
        sq += c * c;
    }
    const double inv = 1.0 / sqrt(warp_sum(sq) / width + eps);
#pragma unroll 4
    for (int k = lane; k < width; k += 32) y[k] = from_float<OUT>((float)((x[k] - mean) * inv * g[k] + b[k]));
}

// Exact GELU x Phi(x) = x erfc(-x / sqrt 2) / 2 (erfc keeps the negative tail exact). EXACT: in double,
// as Gelu.gelu; otherwise in float (the bf16 path rounds its output to 8 bits anyway).
template <bool EXACT>
__device__ __forceinline__ float gelu(float x) {
    if (EXACT) return (float)(0.5 * (double)x * erfc(-(double)x * 0.70710678118654752440));
    return 0.5f * x * erfcf(-x * 0.70710678118654752f);
}

// exp(a - b): in double (EXACT) or float (__expf); exp(-inf) is 0 either way.
template <bool EXACT>
__device__ __forceinline__ typename std::conditional<EXACT, double, float>::type exp_diff(float a, float b) {
    if constexpr (EXACT) return exp((double)a - (double)b);
    else return __expf(a - b);
}

// xPos of position p (Xpos.table, then Table.apply): rotation by p * theta_i, scaled by
// scale_i^((p - window start + min_pos) / scale_base) for queries and its inverse for keys, in double.
struct XposFactors {
    double cos_up, sin_up, cos_down, sin_down;
};

__device__ __forceinline__ XposFactors xpos_factors(int64_t p, double log_scale, double inv_freq, int64_t window,
                                                    int64_t total, int64_t min_pos, int scale_base) {
    const int64_t window_start = total <= window ? 0 : p / window * window;
    const double exponent = (double)(p - window_start + min_pos) / scale_base;
    const double angle = (double)p * inv_freq;
    double s, c;
    sincos(angle, &s, &c);
    const double up = exp(log_scale * exponent);
    const double down = 1 / up;
    return {c * up, s * up, c * down, s * down};
}

// (a, b) rotated and scaled: (a cos - b sin, b cos + a sin) with the factor folded into cos and sin.
__device__ __forceinline__ float2 xpos_rotate(float a, float b, double c, double s) {
    return make_float2((float)(a * c - b * s), (float)(b * c + a * s));
}

// One chunk of a row's logits merged into its running log-sum-exp (max m, sum s of exp(x - m)) by one
// warp; the row's target logit is kept when the target falls in the chunk. As RowOps.logSumExp, but
// online over vocabulary chunks, so that no row's logits are ever whole in memory, and in one pass over
// the chunk: each lane keeps its own running max and sum (the sum rescaled when the max grows), then the
// warp combines them. EXACT: exp and sums in double; otherwise in float.
template <bool EXACT>
__device__ __forceinline__ void lse_update_row(const float* logits, int cols, int col0, int target, double* m,
                                              double* s, float* target_logit, int lane) {
    using acc_t = typename std::conditional<EXACT, double, float>::type;
    float lane_max = -INFINITY;
    acc_t lane_sum = 0;
#pragma unroll 4
    for (int c = lane; c < cols; c += 32) {
        const float x = logits[c];
        if (x > lane_max) {
            lane_sum = lane_sum * exp_diff<EXACT>(lane_max, x) + 1;
            lane_max = x;
        } else {
            lane_sum += exp_diff<EXACT>(x, lane_max);
        }
    }
    const float chunk_max = warp_max(lane_max);
    const double chunk_sum =
        warp_sum(lane_max == -INFINITY ? 0.0 : (double)(lane_sum * exp_diff<EXACT>(lane_max, chunk_max)));
    if (lane == 0) {
        const bool first = col0 == 0;  // the row's first chunk: no running state yet
        const double old_m = first ? -INFINITY : *m;
        const double new_m = fmax(old_m, (double)chunk_max);
        *s = (first ? 0.0 : *s * exp(old_m - new_m)) + chunk_sum * exp((double)chunk_max - new_m);
        *m = new_m;
        if (first) *target_logit = NAN;  // a target outside the vocabulary shows as NaN, never as stale
        if (target >= col0 && target < col0 + cols) *target_logit = logits[target - col0];
    }
}
