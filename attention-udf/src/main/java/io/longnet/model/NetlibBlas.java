package io.longnet.model;

import dev.ludovic.netlib.blas.BLAS;
import dev.ludovic.netlib.blas.NativeBLAS;

/**
 * The BLAS the model's and the trainer's matrix products may run on: netlib's choice, made once per JVM
 * (docs/ARCHITECTURE.md §6): its JNI binding to the native {@code libblas.so.3} when one is installed (OpenBLAS
 * on Debian: {@code libopenblas0}), else its Vector API implementation when {@code jdk.incubator.vector} is
 * loaded, else plain Java. The products use it only where it beats the project's own loops (measured on 2
 * cores, docs/BENCHMARKS.md): float32 on native (6-15x) or Vector API (about 4-5x); float64 on native only
 * (about 2.5x; netlib's Java dgemm is no faster than {@code DoubleRowOps}'s). It logs nothing itself (the
 * benchmark mains run without a logging binding); {@link #describe()} goes into the jobs' and benchmarks'
 * summaries.
 */
public final class NetlibBlas {

    private static final BLAS LIBRARY = BLAS.getInstance();
    private static final boolean NATIVE = LIBRARY instanceof NativeBLAS;
    /** netlib's Vector API class is package-private: recognised by its name. */
    private static final boolean VECTOR = LIBRARY.getClass().getSimpleName().equals("VectorBLAS");

    private NetlibBlas() {
    }

    /** netlib's instance. */
    public static BLAS library() {
        return LIBRARY;
    }

    /** Whether float32 products should go through {@link #library()}. */
    public static boolean forFloat() {
        return NATIVE || VECTOR;
    }

    /** Whether float64 products should go through {@link #library()}. */
    public static boolean forDouble() {
        return NATIVE;
    }

    /** What the products run on, for logs and job summaries. */
    public static String describe() {
        String name = LIBRARY.getClass().getSimpleName();
        return forFloat() ? "BLAS " + name + (NATIVE ? " (native)" : "") + (forDouble() ? "" : ", float64 on Java loops")
                : "Java loops (netlib offers only " + name + ")";
    }
}
