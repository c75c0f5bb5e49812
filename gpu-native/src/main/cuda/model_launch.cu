// Entry points of the GPU model's kernels (io.longnet.gpu.ModelKernels loads them by name; the formulas
// are io.longnet.model's): embedding gather, LayerNorm, bias + exact GELU, bias + xPos of the fused q/k/v
// projection, bias add, and the LM head's running log-sum-exp. Each row kernel is instantiated for fp32
// output (the exact path) and bf16 output (the tensor-core products' inputs); the math is in model_ops.h.
#include "model_ops.h"
#include "model_traits.h"

namespace {

__device__ __forceinline__ long long first_index() { return blockIdx.x * (long long)blockDim.x + threadIdx.x; }
__device__ __forceinline__ long long grid_stride() { return (long long)gridDim.x * blockDim.x; }
__device__ __forceinline__ long long warp_row() {
    return blockIdx.x * (long long)RowTraits::WARPS + threadIdx.x / 32;
}

template <typename OUT>
__device__ void layer_norm(const float* x, const float* g, const float* b, OUT* y, long long rows, int width,
                           double eps) {
    const long long row = warp_row();
    if (row >= rows) return;
    layer_norm_row<OUT>(x + row * width, g, b, y + row * width, width, eps, threadIdx.x % 32);
}

// y = gelu(f + bias) (y may be f when IN and OUT are one type: each thread reads its element first). A
// block per row, its threads over the columns: no index division per element.
template <typename IN, typename OUT, bool EXACT>
__device__ void bias_gelu(const IN* f, const float* bias, OUT* y, long long rows, int width) {
    for (long long row = blockIdx.x; row < rows; row += gridDim.x) {
        const long long base = row * width;
        for (int c = threadIdx.x; c < width; c += blockDim.x)
            y[base + c] = from_float<OUT>(gelu<EXACT>(to_float(f[base + c]) + bias[c]));
    }
}

// The fused projection qkv [N][3 D] (q, k, v side by side, bias not yet added) into the attention's
// inputs q, k, v [N][H][d]: bias added, then xPos on q (up) and k (down). One thread per (position, pair),
// looping over heads, so that each rotation is computed once per position.
template <typename IN, typename OUT>
__device__ void qkv_xpos(const IN* qkv, const float* bias, OUT* q, OUT* k, OUT* v, long long n, int heads,
                         int half, const double* log_scale, const double* inv_freq, long long window,
                         long long total, long long min_pos, int scale_base, long long first_position) {
    const int d = 2 * half;
    const int width = heads * d;
    for (long long i = first_index(); i < n * half; i += grid_stride()) {
        const long long row = i / half;
        const int pair = (int)(i % half);
        const XposFactors f = xpos_factors(first_position + row, log_scale[pair], inv_freq[pair], window, total,
                                           min_pos, scale_base);
        const IN* in = qkv + row * 3 * width;
        for (int h = 0; h < heads; h++) {
            const int c = h * d + 2 * pair;
            const long long at = row * width + c;
            const float2 qr = xpos_rotate(to_float(in[c]) + bias[c], to_float(in[c + 1]) + bias[c + 1], f.cos_up,
                                          f.sin_up);
            const float2 kr = xpos_rotate(to_float(in[width + c]) + bias[width + c],
                                          to_float(in[width + c + 1]) + bias[width + c + 1], f.cos_down, f.sin_down);
            q[at] = from_float<OUT>(qr.x);
            q[at + 1] = from_float<OUT>(qr.y);
            k[at] = from_float<OUT>(kr.x);
            k[at + 1] = from_float<OUT>(kr.y);
            v[at] = from_float<OUT>(to_float(in[2 * width + c]) + bias[2 * width + c]);
            v[at + 1] = from_float<OUT>(to_float(in[2 * width + c + 1]) + bias[2 * width + c + 1]);
        }
    }
}

// Sum over the block's threads (every thread gets it); `scratch` holds one value per warp. Ends with a
// barrier, so that a later call may reuse `scratch`.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
    for (int s = 16; s > 0; s >>= 1) v += __shfl_xor_sync(0xffffffffu, v, s);
    const int warp = threadIdx.x / 32;
    if (threadIdx.x % 32 == 0) scratch[warp] = v;
    __syncthreads();
    float total = 0;
    for (int w = 0; w < (int)(blockDim.x / 32); w++) total += scratch[w];
    __syncthreads();
    return total;
}

template <bool EXACT>
__device__ void lse_update(const float* logits, long long rows, int cols, int col0, const int* targets, double* m,
                           double* s, float* target_logit) {
    const long long row = warp_row();
    if (row >= rows) return;
    lse_update_row<EXACT>(logits + row * cols, cols, col0, targets[row], m + row, s + row, target_logit + row,
                          threadIdx.x % 32);
}

}  // namespace

extern "C" {

// x[p] = table[tokens[p]] (tokens checked against the vocabulary by the launcher).
__global__ void embed_gather(const int* tokens, const float* table, float* x, long long n, int d) {
    for (long long row = blockIdx.x; row < n; row += gridDim.x) {
        const float* from = table + (long long)tokens[row] * d;
        for (int c = threadIdx.x; c < d; c += blockDim.x) x[row * d + c] = from[c];
    }
}

__global__ void __launch_bounds__(RowTraits::THREADS) layer_norm_f32(const float* x, const float* g, const float* b,
        float* y, long long rows, int width, double eps) { layer_norm<float>(x, g, b, y, rows, width, eps); }
__global__ void __launch_bounds__(RowTraits::THREADS) layer_norm_bf16(const float* x, const float* g, const float* b,
        __nv_bfloat16* y, long long rows, int width, double eps) { layer_norm<__nv_bfloat16>(x, g, b, y, rows, width, eps); }

// The fp32 model: exact GELU in double.
__global__ void bias_gelu_f32(const float* f, const float* bias, float* y, long long rows, int width) {
    bias_gelu<float, float, true>(f, bias, y, rows, width);
}
// The bf16 model: the product's bf16 output in place, float math.
__global__ void bias_gelu_bf16(const __nv_bfloat16* f, const float* bias, __nv_bfloat16* y, long long rows, int width) {
    bias_gelu<__nv_bfloat16, __nv_bfloat16, false>(f, bias, y, rows, width);
}
// The bf16 model before a sub-LayerNorm: fp32 output for the LayerNorm's statistics.
__global__ void bias_gelu_bf16_f32(const __nv_bfloat16* f, const float* bias, float* y, long long rows, int width) {
    bias_gelu<__nv_bfloat16, float, false>(f, bias, y, rows, width);
}

__global__ void qkv_xpos_f32(const float* qkv, const float* bias, float* q, float* k, float* v, long long n, int heads,
        int half, const double* log_scale, const double* inv_freq, long long window, long long total,
        long long min_pos, int scale_base, long long first_position) {
    qkv_xpos<float, float>(qkv, bias, q, k, v, n, heads, half, log_scale, inv_freq, window, total, min_pos,
                           scale_base, first_position);
}
// The bf16 model: the projection's bf16 output in, the attention's bf16 inputs out.
__global__ void qkv_xpos_bf16(const __nv_bfloat16* qkv, const float* bias, __nv_bfloat16* q, __nv_bfloat16* k,
        __nv_bfloat16* v, long long n, int heads, int half, const double* log_scale, const double* inv_freq,
        long long window, long long total, long long min_pos, int scale_base, long long first_position) {
    qkv_xpos<__nv_bfloat16, __nv_bfloat16>(qkv, bias, q, k, v, n, heads, half, log_scale, inv_freq, window, total,
                                           min_pos, scale_base, first_position);
}

// The bf16 model's feed-forward activation with MAGNETO's sub-LayerNorm in one pass over the row:
// y = LayerNorm(gelu(f + bias)), f the product's bf16 output, y bf16 (y may be f: the row is read whole
// before it is written). A block per row; the activated row waits in shared memory (`width` floats) between
// the statistics (float, two passes over shared memory: mean, then centred squares) and the output, so
// that the fp32 intermediate never goes to global memory.
__global__ void bias_gelu_layer_norm_bf16(const __nv_bfloat16* f, const float* bias, const float* g, const float* b,
                                          __nv_bfloat16* y, long long rows, int width, float eps) {
    extern __shared__ float act[];
    __shared__ float scratch[32];
    for (long long row = blockIdx.x; row < rows; row += gridDim.x) {
        const long long base = row * width;
        float sum = 0;
        for (int c = threadIdx.x; c < width; c += blockDim.x) {
            const float v = gelu<false>(__bfloat162float(f[base + c]) + bias[c]);
            act[c] = v;
            sum += v;
        }
        const float mean = block_sum(sum, scratch) / width;
        float sq = 0;
        for (int c = threadIdx.x; c < width; c += blockDim.x) {
            const float d = act[c] - mean;
            sq += d * d;
        }
        const float inv = rsqrtf(block_sum(sq, scratch) / width + eps);
        for (int c = threadIdx.x; c < width; c += blockDim.x)
            y[base + c] = __float2bfloat16_rn((act[c] - mean) * inv * g[c] + b[c]);
    }
}

// x[r][c] += bias[c]: the bias of a product accumulated into the residual stream by the GEMM. A block per
// row, as bias_gelu.
__global__ void add_bias(float* x, const float* bias, long long rows, int width) {
    for (long long row = blockIdx.x; row < rows; row += gridDim.x) {
        float* r = x + row * width;
        for (int c = threadIdx.x; c < width; c += blockDim.x) r[c] += bias[c];
    }
}

__global__ void __launch_bounds__(RowTraits::THREADS) lse_update_f32(const float* logits, long long rows, int cols,
        int col0, const int* targets, double* m, double* s, float* target_logit) {
    lse_update<true>(logits, rows, cols, col0, targets, m, s, target_logit);
}
__global__ void __launch_bounds__(RowTraits::THREADS) lse_update_bf16(const float* logits, long long rows, int cols,
        int col0, const int* targets, double* m, double* s, float* target_logit) {
    lse_update<false>(logits, rows, cols, col0, targets, m, s, target_logit);
}

// lp = target logit - log-sum-exp, once every chunk of the vocabulary went through lse_update.
__global__ void lse_finish(const double* m, const double* s, const float* target_logit, float* lp, long long rows) {
    for (long long i = first_index(); i < rows; i += grid_stride())
        lp[i] = (float)((double)target_logit[i] - (m[i] + log(s[i])));
}

// Benchmark and test inputs made on the device: uniform in (-scale, scale) from a counter hash, fp32.
__global__ void fill_uniform_f32(float* out, long long n, unsigned long long seed, float scale) {
    for (long long i = first_index(); i < n; i += grid_stride()) {
        unsigned long long x = (unsigned long long)i * 0x9E3779B97F4A7C15ull + seed;
        x ^= x >> 30; x *= 0xBF58476D1CE4E5B9ull; x ^= x >> 27; x *= 0x94D049BB133111EBull; x ^= x >> 31;
        out[i] = ((float)(x >> 40) * (1.0f / 8388608.0f) - 1.0f) * scale;
    }
}

}
