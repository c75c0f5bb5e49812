// The bf16 kernels' development harness (docs/BENCHMARKS.md, the GPU kernel sections): the kernel sm_90a runs
// (the warp-specialised one at d = 64, dilated_fwd_bf16 with wgmma otherwise) against the mma.sync policy on the
// same inputs, a float64 host reference, and timings of the paper's configs, with no Java and no project
// launcher in between, so that a variant of the kernel's headers can be built and measured in seconds. Built
// by gpu-native/scripts/kernel-harness.sh; not part of the Maven build or the shipped kernels.
//
//   kernel-harness check   sm_90a's kernel against the mma.sync policy, all branches merged: the same bits?
//   kernel-harness host    single branches of the mma.sync, wgmma and sm_90a kernels against float64
//   kernel-harness time [N]  config A (H=12, d=64) and B (H=4, d=32) at N (default 1M), causal and not: median ms
//   kernel-harness a1      config A's first branch alone, for a profiler (ncu -k regex:k_ws)
#include "dilated_fwd_ws_kernel.h"
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#define CHECK_CUDA(call)                                                                     \
    do {                                                                                     \
        cudaError_t err_ = (call);                                                           \
        if (err_ != cudaSuccess) {                                                           \
            std::printf("CUDA %s at %s:%d\n", cudaGetErrorString(err_), __FILE__, __LINE__); \
            std::exit(1);                                                                    \
        }                                                                                    \
    } while (0)

template <int D>
__global__ void __launch_bounds__(MmaTraits<D>::THREADS, MmaTraits<D>::MIN_BLOCKS) k_sync(const DilatedParams p) {
    dilated_fwd_bf16<D, WarpMma<D>>(p);
}
template <int D>
__global__ void __launch_bounds__(MmaTraits<D>::THREADS, MmaTraits<D>::MIN_BLOCKS) k_wg(const DilatedParams p) {
    dilated_fwd_bf16<D, WarpgroupMma<D>>(p);
}
template <int D>
__global__ void __launch_bounds__(WarpSpecialisedTraits<D>::THREADS, 1) k_ws(const DilatedParams p) {
    dilated_fwd_ws<D>(p);
}
// A kernel with its launch shape.
struct Kernel {
    void (*fn)(const DilatedParams);
    int threads, smem, block_m;
};
template <typename T>
Kernel with_shape(void (*fn)(const DilatedParams)) { return {fn, T::THREADS, T::SMEM_BYTES, T::BLOCK_M}; }
template <int D> Kernel sync_kernel() { return with_shape<MmaTraits<D>>(k_sync<D>); }
template <int D> Kernel wg_kernel() { return with_shape<MmaTraits<D>>(k_wg<D>); }
// The kernel dilated_fwd_launch.cu runs on sm_90a.
template <int D> Kernel shipped_kernel() {
    if constexpr (D == 64) return with_shape<WarpSpecialisedTraits<D>>(k_ws<D>);
    else return wg_kernel<D>();
}

// Deterministic inputs in [-1, 1): a hash of the element index and a seed.
__global__ void fill(__nv_bfloat16* out, long long n, unsigned long long seed) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        unsigned long long x = (unsigned long long)i * 0x9E3779B97F4A7C15ull + seed;
        x ^= x >> 30; x *= 0xBF58476D1CE4E5B9ull; x ^= x >> 27; x *= 0x94D049BB133111EBull; x ^= x >> 31;
        out[i] = __float2bfloat16_rn((float)(x >> 40) * (1.0f / 8388608.0f) - 1.0f);
    }
}

__global__ void fill_value(float* out, long long n, float value) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        out[i] = value;
}

struct Branch { int w, r; };
static const std::vector<Branch> CONFIG_A = {{2048, 1}, {4096, 2}, {8192, 4}, {16384, 6}, {32768, 12}};
static const std::vector<Branch> CONFIG_B = {{256, 1}, {512, 2}, {1024, 4}};
static const std::vector<Branch> RAGGED = {{100, 3}, {37, 1}, {250, 7}};

// One sequence's q, k, v (bf16, [n][heads][D]) and o, lse (fp32) on the device.
template <int D>
struct Inputs {
    int n, heads;
    long long elems;
    __nv_bfloat16 *q, *k, *v;
    float *o, *lse;
    Inputs(int n_, int heads_, unsigned long long seed) : n(n_), heads(heads_), elems((long long)n_ * heads_ * D) {
        CHECK_CUDA(cudaMalloc(&q, elems * 2)); CHECK_CUDA(cudaMalloc(&k, elems * 2)); CHECK_CUDA(cudaMalloc(&v, elems * 2));
        CHECK_CUDA(cudaMalloc(&o, elems * 4)); CHECK_CUDA(cudaMalloc(&lse, (long long)n * heads * 4));
        fill<<<1024, 256>>>(q, elems, seed); fill<<<1024, 256>>>(k, elems, seed + 1); fill<<<1024, 256>>>(v, elems, seed + 2);
    }
    ~Inputs() { cudaFree(q); cudaFree(k); cudaFree(v); cudaFree(o); cudaFree(lse); }
};

// All branches as the launcher runs them: one launch each, the first one writing o and lse (which are cleared
// first only where that branch has dilation > 1 and so leaves rows unwritten).
template <int D>
void run_branches(Kernel kernel, const Inputs<D>& in, const std::vector<Branch>& branches, bool causal) {
    CHECK_CUDA(cudaFuncSetAttribute(kernel.fn, cudaFuncAttributeMaxDynamicSharedMemorySize, kernel.smem));
    if (branches[0].r > 1) {
        fill_value<<<1024, 256>>>(in.o, in.elems, 0.f);
        fill_value<<<1024, 256>>>(in.lse, (long long)in.n * in.heads, -INFINITY);
    }
    for (size_t b = 0; b < branches.size(); b++) {
        DilatedParams p{};
        p.q = in.q; p.k = in.k; p.v = in.v; p.o = in.o; p.lse = in.lse; p.head_key_rows = nullptr;
        p.n = in.n; p.heads = in.heads; p.w = branches[b].w; p.r = branches[b].r; p.offset_mode = 0;
        p.causal = causal; p.gathered = 0; p.offset_in_segment = 0; p.key_head_stride = 0; p.first = b == 0;
        p.scale_log2 = 1.4426950408889634f / std::sqrt((float)D);
        const int segments = (in.n + p.w - 1) / p.w;
        const int rows = (std::min(p.w, in.n) + p.r - 1) / p.r;
        const dim3 grid(segments, in.heads, std::max(1, (rows + kernel.block_m - 1) / kernel.block_m));
        kernel.fn<<<grid, kernel.threads, kernel.smem>>>(p);
    }
    CHECK_CUDA(cudaGetLastError());
}

template <typename X>
std::vector<X> to_host(const X* device, long long count) {
    std::vector<X> host(count);
    CHECK_CUDA(cudaMemcpy(host.data(), device, count * sizeof(X), cudaMemcpyDeviceToHost));
    return host;
}

// The mma.sync policy's and the shipped sm_90a kernel's outputs over the same inputs: largest difference of o relative to its largest value.
template <int D>
double compare_policies(int n, int heads, const std::vector<Branch>& branches, bool causal) {
    Inputs<D> in(n, heads, 1);
    run_branches<D>(sync_kernel<D>(), in, branches, causal);
    const std::vector<float> o_sync = to_host(in.o, in.elems), lse_sync = to_host(in.lse, (long long)n * heads);
    run_branches<D>(shipped_kernel<D>(), in, branches, causal);
    const std::vector<float> o_wg = to_host(in.o, in.elems), lse_wg = to_host(in.lse, (long long)n * heads);
    double o_diff = 0, o_max = 0, lse_diff = 0;
    for (long long i = 0; i < in.elems; i++) {
        o_diff = std::isnan(o_wg[i]) ? INFINITY : std::fmax(o_diff, std::fabs((double)o_sync[i] - o_wg[i]));
        o_max = std::fmax(o_max, std::fabs((double)o_sync[i]));
    }
    for (size_t i = 0; i < lse_sync.size(); i++)
        if (!(std::isinf(lse_sync[i]) && lse_sync[i] == lse_wg[i])) lse_diff = std::fmax(lse_diff, std::fabs((double)lse_sync[i] - lse_wg[i]));
    std::printf("check D=%d n=%d H=%d causal=%d branches=%zu: o max diff %.3e (o max %.3f), lse max diff %.3e\n", D, n,
                heads, causal, branches.size(), o_diff, o_max, lse_diff);
    return o_diff / o_max;
}

static float bf16_value(unsigned short bits) {
    const unsigned int u = (unsigned int)bits << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// One branch of the mma.sync, wgmma and shipped kernels against dilated attention in float64 on the host (head h keeps rows h mod r).
template <int D>
void against_float64(int n, int heads, Branch br, bool causal) {
    Inputs<D> in(n, heads, 11);
    const std::vector<unsigned short> q = to_host((const unsigned short*)in.q, in.elems);
    const std::vector<unsigned short> k = to_host((const unsigned short*)in.k, in.elems);
    const std::vector<unsigned short> v = to_host((const unsigned short*)in.v, in.elems);
    std::vector<double> ref(in.elems, 0.0);
    const double scale = 1.0 / std::sqrt((double)D);
    auto at = [&](long long pos, int h, int c) { return (pos * heads + h) * D + c; };
    for (int h = 0; h < heads; h++)
        for (int s0 = 0; s0 < n; s0 += br.w) {
            std::vector<int> pos;
            for (int t = s0 + h % br.r; t < std::min(n, s0 + br.w); t += br.r) pos.push_back(t);
            std::vector<double> p(pos.size());
            for (size_t i = 0; i < pos.size(); i++) {
                const size_t keys = causal ? i + 1 : pos.size();
                double mx = -INFINITY, sum = 0;
                for (size_t j = 0; j < keys; j++) {
                    double dot = 0;
                    for (int c = 0; c < D; c++) dot += (double)bf16_value(q[at(pos[i], h, c)]) * bf16_value(k[at(pos[j], h, c)]);
                    p[j] = dot * scale;
                    mx = std::fmax(mx, p[j]);
                }
                for (size_t j = 0; j < keys; j++) sum += p[j] = std::exp(p[j] - mx);
                for (int c = 0; c < D; c++) {
                    double acc = 0;
                    for (size_t j = 0; j < keys; j++) acc += p[j] * bf16_value(v[at(pos[j], h, c)]);
                    ref[at(pos[i], h, c)] = acc / sum;
                }
            }
        }
    const Kernel kernels[3] = {sync_kernel<D>(), wg_kernel<D>(), shipped_kernel<D>()};
    const char* names[3] = {"mma.sync", "wgmma", "sm_90a"};
    for (int w = 0; w < 3; w++) {
        CHECK_CUDA(cudaMemset(in.o, 0, in.elems * 4));
        run_branches<D>(kernels[w], in, {br}, causal);
        const std::vector<float> got = to_host(in.o, in.elems);
        double diff = 0, ref_max = 0;
        for (long long i = 0; i < in.elems; i++) {
            diff = std::isnan(got[i]) ? INFINITY : std::fmax(diff, std::fabs(got[i] - ref[i]));
            ref_max = std::fmax(ref_max, std::fabs(ref[i]));
        }
        std::printf("host D=%d n=%d H=%d w=%d r=%d causal=%d %s: relative error %.3e\n", D, n, heads, br.w, br.r, causal,
                    names[w], diff / ref_max);
    }
}

// Median of 10 timed runs of all branches of the shipped sm_90a kernel (after 10 warm-ups: the clocks settle), CUDA events around the launches.
template <int D>
void timing(const char* name, int n, int heads, const std::vector<Branch>& branches, bool causal) {
    Inputs<D> in(n, heads, 1);
    cudaEvent_t start, stop;
    cudaEventCreate(&start); cudaEventCreate(&stop);
    std::vector<float> ms;
    for (int it = 0; it < 20; it++) {
        cudaEventRecord(start);
        run_branches<D>(shipped_kernel<D>(), in, branches, causal);
        cudaEventRecord(stop);
        CHECK_CUDA(cudaEventSynchronize(stop));
        float t;
        cudaEventElapsedTime(&t, start, stop);
        if (it >= 10) ms.push_back(t);
    }
    std::sort(ms.begin(), ms.end());
    std::printf("time %s n=%d causal=%d sm_90a: median %.3f ms (min %.3f)\n", name, n, causal, ms[ms.size() / 2], ms[0]);
}

int main(int argc, char** argv) {
    const char* mode = argc > 1 ? argv[1] : "";
    if (!std::strcmp(mode, "check")) {
        double worst = 0;
        for (int causal = 0; causal < 2; causal++) {
            worst = std::fmax(worst, compare_policies<64>(65536, 12, CONFIG_A, causal));
            worst = std::fmax(worst, compare_policies<32>(65536 + 77, 4, CONFIG_B, causal));
            worst = std::fmax(worst, compare_policies<128>(4099, 3, RAGGED, causal));
            worst = std::fmax(worst, compare_policies<64>(1001, 5, RAGGED, causal));
        }
        std::printf("worst relative o difference from the mma.sync policy: %.3e\n", worst);
        return worst == 0 ? 0 : 2;
    }
    if (!std::strcmp(mode, "host")) {
        for (int causal = 0; causal < 2; causal++) {
            against_float64<64>(4096, 2, {2048, 1}, causal);
            against_float64<64>(8192, 3, {8192, 6}, causal);
            against_float64<64>(3000, 2, {1000, 2}, causal);
            against_float64<32>(4096, 2, {2048, 1}, causal);
            against_float64<128>(4096, 2, {2048, 1}, causal);
        }
        return 0;
    }
    if (!std::strcmp(mode, "time")) {
        const int n = argc > 2 ? std::atoi(argv[2]) : 1 << 20;
        for (int causal = 0; causal < 2; causal++) {
            timing<64>("A", n, 12, CONFIG_A, causal);
            timing<32>("B", n, 4, CONFIG_B, causal);
        }
        return 0;
    }
    if (!std::strcmp(mode, "a1")) {
        timing<64>("A1", 1 << 20, 12, {CONFIG_A[0]}, false);
        return 0;
    }
    std::fprintf(stderr, "usage: kernel-harness check|host|time [N]|a1\n");
    return 2;
}
