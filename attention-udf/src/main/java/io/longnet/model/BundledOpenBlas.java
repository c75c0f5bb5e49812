package io.longnet.model;

import java.io.IOException;
import java.util.Locale;
import java.util.Map;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.openblas.global.openblas_nolapack;

/**
 * The OpenBLAS the build bundles ({@code org.bytedeco:openblas}, linux-x86_64), made netlib's native library
 * before netlib makes its once-per-JVM choice (docs/ARCHITECTURE.md §6). JavaCPP extracts it into its cache
 * (safely across concurrent JVMs) and loads it; netlib is then pointed at that very file, so that its dlopen
 * gets the library JavaCPP loaded and the thread count set here. {@code -Dlongnet.blas} picks the products'
 * library: {@code bundled} (the default), {@code system} (netlib's own choice, as without the bundle: the
 * host's {@code libblas.so.3}), {@code java} (no native BLAS: the project's GEMM or loops). A library named
 * with netlib's own properties ({@link #NATIVE_LIB}, {@link #NATIVE_LIB_PATH}) wins over the bundle.
 */
final class BundledOpenBlas {

    /** The project's switch. */
    static final String CHOICE = "longnet.blas";
    /** netlib's library name, resolved by dlopen's search ({@code libblas.so.3} unless set). */
    static final String NATIVE_LIB = "dev.ludovic.netlib.blas.nativeLib";
    /** netlib's library file; read before {@link #NATIVE_LIB}. */
    static final String NATIVE_LIB_PATH = "dev.ludovic.netlib.blas.nativeLibPath";
    /** OpenBLAS's own thread count, honoured when the user sets it. */
    static final String THREADS_ENV = "OPENBLAS_NUM_THREADS";

    /** What {@code -Dlongnet.blas} asks for. */
    enum Choice {
        BUNDLED, SYSTEM, JAVA;

        /** The property's value; unset means {@link #BUNDLED}. */
        static Choice parse(String value) {
            if (value == null) {
                return BUNDLED;
            }
            try {
                return valueOf(value.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("-D" + CHOICE + "=" + value + ": expected bundled (the default:"
                        + " the OpenBLAS the build ships), system (the host's libblas.so.3, as netlib finds it) or"
                        + " java (no native BLAS)");
            }
        }
    }

    private BundledOpenBlas() {
    }

    /**
     * Loads the bundled OpenBLAS and points netlib at it, where {@code choice} asks for it and the user named
     * no library of their own; to run before netlib's first {@code getInstance}. Returns what was loaded, for
     * {@link NetlibBlas#describe()} (e.g. {@code bundled OpenBLAS 0.3.31, 1 thread}), or null where netlib is
     * left to choose alone: any failure (another platform, the jar absent, a cache that cannot be written)
     * falls back to that, silently, as a build without the bundle would run.
     */
    static String install(Choice choice) {
        if (choice != Choice.BUNDLED || System.getProperty(NATIVE_LIB) != null
                || System.getProperty(NATIVE_LIB_PATH) != null) {
            return null;
        }
        try {
            return load();
        } catch (LinkageError | RuntimeException | IOException e) {
            return null;
        }
    }

    private static String load() throws IOException {
        Loader.load(openblas_nolapack.class);
        String path = null;
        for (Map.Entry<String, String> library : Loader.getLoadedLibraries().entrySet()) {
            if (library.getKey().startsWith("openblas")) {
                path = library.getValue();
            }
        }
        if (path == null) {
            return null;
        }
        // One thread per call: the cores come from the project's own parallelism (Spark's tasks, the trainer's
        // threads); OpenBLAS's pool in every call would oversubscribe them.
        String threads = System.getenv(THREADS_ENV);
        if (threads == null) {
            openblas_nolapack.blas_set_num_threads(1);
        }
        String version = Loader.getVersion("org.bytedeco", "openblas"); // "0.3.31-1.5.13": OpenBLAS's, JavaCPP's
        String description = "bundled OpenBLAS" + (version == null ? "" : " " + version.replaceFirst("-.*", ""))
                + (threads == null ? ", 1 thread" : ", " + THREADS_ENV + "=" + threads);
        System.setProperty(NATIVE_LIB_PATH, path);
        return description;
    }
}
