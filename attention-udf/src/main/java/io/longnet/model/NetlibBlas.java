package io.longnet.model;

import dev.ludovic.netlib.blas.BLAS;
import dev.ludovic.netlib.blas.JavaBLAS;
import dev.ludovic.netlib.blas.NativeBLAS;
import io.longnet.attention.VectorApi;

/**
 * The BLAS the model's and the trainer's matrix products may run on, chosen once per JVM (docs/ARCHITECTURE.md
 * §6): by default the OpenBLAS the build bundles, through netlib's JNI binding ({@link BundledOpenBlas} points
 * netlib at it before netlib chooses); with {@code -Dlongnet.blas=system}, or where the bundle cannot load,
 * netlib's own choice: the native {@code libblas.so.3} when one is installed (OpenBLAS on Debian:
 * {@code libopenblas0}), else its Vector API implementation when {@code jdk.incubator.vector} is loaded, else
 * plain Java; with {@code -Dlongnet.blas=java}, netlib's Java implementations only. The products use it only
 * where it beats the project's own code (measured on 2 cores, docs/BENCHMARKS.md): a native library first,
 * float32 and float64; without one, the project's own {@link VectorGemm} where {@link VectorApi} allows it
 * (netlib's Vector API code is no faster, and its vector shapes, sharing the JDK's type profiles, slow the
 * project's other vector code down); netlib's Vector API sgemm only where the module is loaded yet
 * {@code -Dlongnet.vector=false} switched the project's off; the loops otherwise. It logs nothing itself (the
 * benchmark mains run without a logging binding); {@link #describe()} goes into the jobs' and benchmarks'
 * summaries.
 */
public final class NetlibBlas {

    private static final BundledOpenBlas.Choice CHOICE =
            BundledOpenBlas.Choice.parse(System.getProperty(BundledOpenBlas.CHOICE));
    /** Before netlib's first getInstance, which reads the library properties once per JVM. */
    private static final String BUNDLED = BundledOpenBlas.install(CHOICE);
    private static final BLAS LIBRARY =
            CHOICE == BundledOpenBlas.Choice.JAVA ? JavaBLAS.getInstance() : BLAS.getInstance();
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
        return NATIVE || (VECTOR && !VectorApi.available());
    }

    /** Whether float64 products should go through {@link #library()}. */
    public static boolean forDouble() {
        return NATIVE;
    }

    /** Whether products netlib does not take run on {@link VectorGemm} (else on the Java loops). */
    public static boolean vectorGemm() {
        return !NATIVE && VectorApi.available();
    }

    /** What the products run on, for logs and job summaries. */
    public static String describe() {
        String name = LIBRARY.getClass().getSimpleName();
        if (NATIVE) {
            return "BLAS " + name + (BUNDLED == null ? " (native)" : " (native, " + BUNDLED + ")");
        }
        if (vectorGemm()) {
            return CHOICE == BundledOpenBlas.Choice.JAVA ? "Vector API GEMM (-D" + BundledOpenBlas.CHOICE + "=java)"
                    : "Vector API GEMM (no native BLAS)";
        }
        return forFloat() ? "BLAS " + name + ", float64 on Java loops" : "Java loops (netlib offers only " + name + ")";
    }
}
