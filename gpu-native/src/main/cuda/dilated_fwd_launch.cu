// Entry points the Java launcher (io.longnet.gpu) loads by name: one instantiation per dtype and head
// width, plus the conversions of inputs. Grid: (segments, heads, query blocks of BLOCK_M rows); block: the
// traits' THREADS, with SMEM_BYTES of dynamic shared memory. Each attention entry NAME comes with NAME_shape,
// {THREADS, BLOCK_M, SMEM_BYTES} of the code the driver loaded (sm_90a's machine code or the PTX), which the
// launcher reads from the module (io.longnet.gpu.KernelShape).
#include "dilated_fwd_ws_kernel.h"
#include "counter_qkv.h"
#include <cuda_fp16.h>


// wgmma where the code is built for sm_90a (Hopper's machine code in the fatbin), with the warp-specialised
// kernel at d = 64; mma.sync in the PTX that other chips compile. All give the same bits (the same products
// in the same order).
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
template <int D> using TensorCoreMma = WarpgroupMma<D>;
#define BF16_D64_TRAITS WarpSpecialisedTraits<64>
#define BF16_D64_KERNEL dilated_fwd_ws<64>
#else
template <int D> using TensorCoreMma = WarpMma<D>;
#define BF16_D64_TRAITS MmaTraits<64>
#define BF16_D64_KERNEL dilated_fwd_bf16<64, TensorCoreMma<64>>
#endif

// Widening of stored 16-bit inputs (the kernels half_to_bf16 and half_to_f32 below).
__device__ __forceinline__ float half_bits_to_float(unsigned short bits, int is_f16) {
    return is_f16 ? __half2float(__ushort_as_half(bits)) : __bfloat162float(__ushort_as_bfloat16(bits));
}
__device__ __forceinline__ void store_as(__nv_bfloat16* out, float f) { *out = __float2bfloat16_rn(f); }
__device__ __forceinline__ void store_as(float* out, float f) { *out = f; }

template <typename Out>
__device__ __forceinline__ void widen_half(const unsigned short* in, Out* out, long long n, int is_f16,
                                           unsigned long long* first_bad) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        float f = half_bits_to_float(in[i], is_f16);
        if (!isfinite(f)) atomicMin(first_bad, (unsigned long long)i);
        store_as(out + i, f);
    }
}

extern "C" {

#define SHAPE(name, Traits) __device__ int name##_shape[3] = {Traits::THREADS, Traits::BLOCK_M, Traits::SMEM_BYTES};
__global__ void __launch_bounds__(MmaTraits<32>::THREADS, MmaTraits<32>::MIN_BLOCKS) dilated_fwd_bf16_d32(const DilatedParams p) { dilated_fwd_bf16<32, TensorCoreMma<32>>(p); }
__global__ void __launch_bounds__(BF16_D64_TRAITS::THREADS, 1) dilated_fwd_bf16_d64(const DilatedParams p) { BF16_D64_KERNEL(p); }
__global__ void __launch_bounds__(MmaTraits<128>::THREADS, MmaTraits<128>::MIN_BLOCKS) dilated_fwd_bf16_d128(const DilatedParams p) { dilated_fwd_bf16<128, TensorCoreMma<128>>(p); }
__global__ void __launch_bounds__(128) dilated_fwd_f32_d32(const DilatedParams p) { dilated_fwd_f32<32>(p); }
__global__ void __launch_bounds__(128) dilated_fwd_f32_d64(const DilatedParams p) { dilated_fwd_f32<64>(p); }
__global__ void __launch_bounds__(128) dilated_fwd_f32_d128(const DilatedParams p) { dilated_fwd_f32<128>(p); }
SHAPE(dilated_fwd_bf16_d32, MmaTraits<32>)
SHAPE(dilated_fwd_bf16_d64, BF16_D64_TRAITS)
SHAPE(dilated_fwd_bf16_d128, MmaTraits<128>)
SHAPE(dilated_fwd_f32_d32, F32Traits<32>)
SHAPE(dilated_fwd_f32_d64, F32Traits<64>)
SHAPE(dilated_fwd_f32_d128, F32Traits<128>)

// Benchmark inputs made on the device: uniform in (-1, 1) from a counter hash, bf16.
__global__ void fill_uniform_bf16(__nv_bfloat16* out, long long n, unsigned long long seed) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        unsigned long long x = (unsigned long long)i * 0x9E3779B97F4A7C15ull + seed;
        x ^= x >> 30; x *= 0xBF58476D1CE4E5B9ull; x ^= x >> 27; x *= 0x94D049BB133111EBull; x ^= x >> 31;
        out[i] = __float2bfloat16_rn((float)(x >> 40) * (1.0f / 8388608.0f) - 1.0f);
    }
}

// 16-bit inputs as stored (binary16 when is_f16, else bfloat16) to what the attention kernels read, bf16
// (out may be in itself) or fp32, through float: the same rounding as widening on the host and f32_to_bf16.
// The smallest index of an infinite or NaN input goes to *first_bad, which the caller sets to n before.
__global__ void half_to_bf16(const unsigned short* in, __nv_bfloat16* out, long long n, int is_f16,
                             unsigned long long* first_bad) {
    widen_half(in, out, n, is_f16, first_bad);
}

__global__ void half_to_f32(const unsigned short* in, float* out, long long n, int is_f16,
                            unsigned long long* first_bad) {
    widen_half(in, out, n, is_f16, first_bad);
}

// The smallest index of a result float32 could not hold into *first (set to all ones before): infinity or
// NaN, where allow_neg_inf keeps -inf (an lse row that no branch selects).
__global__ void first_non_finite_f32(const float* x, long long n, int allow_neg_inf, unsigned long long* first) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        float v = x[i];
        if (!isfinite(v) && !(allow_neg_inf && v == -INFINITY)) atomicMin(first, (unsigned long long)i);
    }
}

// Tensor `tensor` (0 q, 1 k, 2 v) of positions [start, start + n) from the counter, [n][heads][d] order, in the
// attention kernels' precision: bf16 (exact for bits <= 8, else rounded to nearest even) or fp32 (exact).
__device__ __forceinline__ float counter_element(long long i, long long start, int heads, int d, int tensor,
                                                 unsigned long long seed, int bits) {
    long long row = i / d;
    return counter_value(seed, bits, tensor, start + row / heads, (int)(row % heads), (int)(i % d));
}

__global__ void counter_qkv_bf16(__nv_bfloat16* out, long long start, long long n, int heads, int d, int tensor,
                                 unsigned long long seed, int bits) {
    long long total = n * heads * d;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x)
        out[i] = __float2bfloat16_rn(counter_element(i, start, heads, d, tensor, seed, bits));
}

__global__ void counter_qkv_f32(float* out, long long start, long long n, int heads, int d, int tensor,
                                unsigned long long seed, int bits) {
    long long total = n * heads * d;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x)
        out[i] = counter_element(i, start, heads, d, tensor, seed, bits);
}

// Adds the checksum terms of x[0, n) to *sum (modulo 2^64): each thread its share, each warp one atomic.
// Integer sums are exact, so the result is the host's whatever the grid. Blocks of a multiple of 32 threads.
__global__ void checksum_f32(const float* x, long long n, unsigned long long* sum) {
    unsigned long long acc = 0;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x)
        acc += checksum_term(x[i]);
    for (int offset = 16; offset > 0; offset >>= 1) acc += __shfl_down_sync(0xffffffffu, acc, offset);
    if ((threadIdx.x & 31) == 0 && acc != 0) atomicAdd(sum, acc);
}

// fp32 -> bf16 (round to nearest even), n elements.
__global__ void f32_to_bf16(const float* in, __nv_bfloat16* out, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x)
        out[i] = __float2bfloat16_rn(in[i]);
}

}
