// Merging one branch's (out, lse) for a row into what earlier branches left in o/lse: the mixture of
// docs/ARCHITECTURE.md §1, weights proportional to each branch's softmax denominator (the CPU engine's LseMerge).
#pragma once

// New lse and the two weights for merging a part with lse `part` into a row with lse `acc`.
__device__ __forceinline__ float lse_merge_weights(float acc, float part, float* w_acc, float* w_part) {
    if (acc == -INFINITY) { *w_acc = 0.f; *w_part = 1.f; return part; }
    if (part == -INFINITY) { *w_acc = 1.f; *w_part = 0.f; return acc; }
    const float m = fmaxf(acc, part);
    const float ea = expf(acc - m);
    const float ep = expf(part - m);
    const float sum = ea + ep;
    *w_acc = ea / sum;
    *w_part = ep / sum;
    return m + logf(sum);
}
