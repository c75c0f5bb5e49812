package io.longnet.gpu;

import jcuda.driver.CUresult;

/** A failed CUDA driver call, named with its error, e.g. "cuLaunchKernel: CUDA_ERROR_ILLEGAL_ADDRESS". */
public final class CudaException extends RuntimeException {

    public CudaException(String message) {
        super(message);
    }

    /** Throws unless {@code result} is {@code CUDA_SUCCESS}. */
    static void check(int result, String call) {
        if (result != CUresult.CUDA_SUCCESS) {
            throw new CudaException(call + ": " + CUresult.stringFor(result));
        }
    }
}
