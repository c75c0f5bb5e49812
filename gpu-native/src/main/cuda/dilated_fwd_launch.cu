// Entry points the Java launcher (io.longnet.gpu) loads by name: one instantiation per dtype and head
// width, plus the fp32 -> bf16 conversion. Grid: (segments, heads, query blocks); block: the traits'
// THREADS; the bf16 kernels take MmaTraits<D>::SMEM_BYTES of dynamic shared memory. The launcher
// computes all three from the same constants (io.longnet.gpu.LaunchGeometry).
#include "dilated_fwd_kernel.h"


extern "C" {

__global__ void __launch_bounds__(256, 2) dilated_fwd_bf16_d32(const DilatedParams p) { dilated_fwd_bf16<32>(p); }
__global__ void __launch_bounds__(256, 2) dilated_fwd_bf16_d64(const DilatedParams p) { dilated_fwd_bf16<64>(p); }
__global__ void __launch_bounds__(256) dilated_fwd_bf16_d128(const DilatedParams p) { dilated_fwd_bf16<128>(p); }
__global__ void __launch_bounds__(128) dilated_fwd_f32_d32(const DilatedParams p) { dilated_fwd_f32<32>(p); }
__global__ void __launch_bounds__(128) dilated_fwd_f32_d64(const DilatedParams p) { dilated_fwd_f32<64>(p); }
__global__ void __launch_bounds__(128) dilated_fwd_f32_d128(const DilatedParams p) { dilated_fwd_f32<128>(p); }

// Benchmark inputs made on the device: uniform in (-1, 1) from a counter hash, bf16.
__global__ void fill_uniform_bf16(__nv_bfloat16* out, long long n, unsigned long long seed) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        unsigned long long x = (unsigned long long)i * 0x9E3779B97F4A7C15ull + seed;
        x ^= x >> 30; x *= 0xBF58476D1CE4E5B9ull; x ^= x >> 27; x *= 0x94D049BB133111EBull; x ^= x >> 31;
        out[i] = __float2bfloat16_rn((float)(x >> 40) * (1.0f / 8388608.0f) - 1.0f);
    }
}

// fp32 -> bf16 (round to nearest even), n elements.
__global__ void f32_to_bf16(const float* in, __nv_bfloat16* out, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x)
        out[i] = __float2bfloat16_rn(in[i]);
}

}
