package io.longnet.attention;

/**
 * Whether this JVM can run the engine's explicit SIMD code, written with the JDK's incubating Vector API
 * ({@code jdk.incubator.vector}). The module is resolved only when the JVM starts with
 * {@code --add-modules jdk.incubator.vector} (the build's tests, {@code bin/longnet} and the executors the
 * jobs configure do); without it every hot loop falls back to its scalar twin, which gives the same results
 * within float rounding. {@code -Dlongnet.vector=false} forces the scalar code, to compare the two.
 *
 * <p>Classes that use the API are loaded only after {@link #available()} said yes, so a JVM without the
 * module never links them (docs/ARCHITECTURE.md §6).
 */
public final class VectorApi {

    /** The module to add: {@code --add-modules jdk.incubator.vector}. */
    public static final String MODULE = "jdk.incubator.vector";

    /** The JVM option that resolves {@link #MODULE}. */
    public static final String JVM_OPTION = "--add-modules=" + MODULE;

    private static final boolean AVAILABLE = ModuleLayer.boot().findModule(MODULE).isPresent()
            && !"false".equalsIgnoreCase(System.getProperty("longnet.vector"));

    private VectorApi() {
    }

    /** True when the module is resolved and not switched off: the SIMD code may be used. */
    public static boolean available() {
        return AVAILABLE;
    }

    /** What the engine's hot loops run on, for the jobs' summaries and the benchmarks. */
    public static String describe() {
        if (AVAILABLE) {
            return "Vector API";
        }
        return ModuleLayer.boot().findModule(MODULE).isPresent()
                ? "scalar loops (-Dlongnet.vector=false)"
                : "scalar loops (" + MODULE + " not loaded; add " + JVM_OPTION + ")";
    }
}
