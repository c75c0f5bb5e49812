// Launch shapes of the model kernels (model_launch.cu). Row kernels (LayerNorm, the LM head's running
// log-sum-exp) give one warp to one row; per-row elementwise kernels (embedding, bias, GELU) give a block
// to a row, striding over rows past MAX_BLOCKS; the others use a grid-stride loop. The Java launcher
// (io.longnet.gpu.ModelKernels) uses the same constants.
#pragma once

struct RowTraits {
    static constexpr int WARPS = 8;                 // rows per CTA
    static constexpr int THREADS = WARPS * 32;
};

struct ElementwiseTraits {
    static constexpr int THREADS = 256;
    static constexpr int MAX_BLOCKS = 1 << 20;      // grid-stride beyond this
};
