package io.longnet.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.bytedeco.javacpp.Loader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Which BLAS the products run on (docs/ARCHITECTURE.md §6): the bundled OpenBLAS by default where its natives
 * exist, the user's library or switch otherwise. netlib chooses once per JVM, so every choice but this JVM's
 * own runs in a JVM of its own ({@link Probe}), which also checks a product against float64.
 */
class NetlibBlasChoiceTest {

    /** The probes' flag-free platform check: the bundle has natives for this platform only. */
    private static final boolean BUNDLED_PLATFORM = "linux-x86_64".equals(Loader.getPlatform());

    @TempDir
    Path dir;

    @Test
    void theBundledOpenBlasRunsByDefault() {
        assumeTrue(BUNDLED_PLATFORM, "the bundled OpenBLAS has natives for linux-x86_64 only");
        assumeTrue(System.getProperty(BundledOpenBlas.CHOICE) == null
                && System.getenv(BundledOpenBlas.THREADS_ENV) == null, "this JVM was started with a choice of its own");
        String describe = NetlibBlas.describe();
        assertTrue(describe.matches("BLAS JNIBLAS \\(native, bundled OpenBLAS \\d+\\.\\d+\\.\\d+, 1 thread\\)"),
                describe);
        assertTrue(NetlibBlas.forFloat() && NetlibBlas.forDouble() && !NetlibBlas.vectorGemm(), describe);
        // netlib was pointed at the very file JavaCPP extracted and loaded, in JavaCPP's cache.
        String path = System.getProperty(BundledOpenBlas.NATIVE_LIB_PATH);
        assertTrue(Loader.getLoadedLibraries().containsValue(path), path + " in " + Loader.getLoadedLibraries());
        assertTrue(Files.isRegularFile(Path.of(path)), path);
    }

    @Test
    void theSwitchAndTheUsersLibraryWinOverTheBundle() throws Exception {
        String vectorGemm = "Vector API GEMM (no native BLAS)";
        assertEquals("Vector API GEMM (-Dlongnet.blas=java)", probe(List.of("-Dlongnet.blas=java"), Map.of()));
        // The user's library, here one that does not exist: netlib tries it, not the bundle, and falls back.
        assertEquals(vectorGemm,
                probe(List.of("-D" + BundledOpenBlas.NATIVE_LIB_PATH + "=" + dir.resolve("libnone.so")), Map.of()));
        assertEquals(vectorGemm, probe(List.of("-D" + BundledOpenBlas.NATIVE_LIB + "=libnone.so.3"), Map.of()));
        // system: netlib's own choice, the host's libblas.so.3 where there is one.
        String system = probe(List.of("-Dlongnet.blas=system"), Map.of());
        assertTrue(system.equals("BLAS JNIBLAS (native)") || system.equals(vectorGemm), system);
        // Without the OpenBLAS jars (the GPU device kit copies only the jars it names): netlib's own choice.
        String withoutBundle = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                .filter(entry -> !Path.of(entry).getFileName().toString().startsWith("openblas-"))
                .collect(Collectors.joining(File.pathSeparator));
        assertNotEquals(System.getProperty("java.class.path"), withoutBundle, "the test classpath holds the bundle");
        String absent = probe(withoutBundle, List.of(), Map.of());
        assertTrue(absent.equals("BLAS JNIBLAS (native)") || absent.equals(vectorGemm), absent);
        if (BUNDLED_PLATFORM) {
            // OpenBLAS's own variable is the user's choice of threads: left as it is, and said.
            String threads = probe(List.of(), Map.of(BundledOpenBlas.THREADS_ENV, "2"));
            assertTrue(threads.matches("BLAS JNIBLAS \\(native, bundled OpenBLAS [0-9.]+, OPENBLAS_NUM_THREADS=2\\)"),
                    threads);
        }
    }

    @Test
    void anUnknownChoiceIsNamedWithTheChoices() {
        assertEquals(BundledOpenBlas.Choice.BUNDLED, BundledOpenBlas.Choice.parse(null));
        assertEquals(BundledOpenBlas.Choice.SYSTEM, BundledOpenBlas.Choice.parse(" System"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> BundledOpenBlas.Choice.parse("mkl"));
        assertEquals("-Dlongnet.blas=mkl: expected bundled (the default: the OpenBLAS the build ships), system (the"
                + " host's libblas.so.3, as netlib finds it) or java (no native BLAS)", e.getMessage());
    }

    private String probe(List<String> props, Map<String, String> env) throws IOException, InterruptedException {
        return probe(System.getProperty("java.class.path"), props, env);
    }

    /** {@link Probe}'s one line, in a JVM with this one's module flags, {@code props} and {@code env}. */
    private String probe(String classPath, List<String> props, Map<String, String> env)
            throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String flag : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (flag.startsWith("--add-modules")) {
                command.add(flag);
            }
        }
        command.add("-Xmx256m");
        command.addAll(props);
        command.addAll(List.of("-cp", classPath, Probe.class.getName()));
        Path out = Files.createTempFile(dir, "probe", ".out");
        ProcessBuilder builder = new ProcessBuilder(command).redirectOutput(out.toFile())
                .redirectError(ProcessBuilder.Redirect.DISCARD);
        builder.environment().remove(BundledOpenBlas.THREADS_ENV);
        builder.environment().putAll(env);
        Process process = builder.start();
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "the probe ended");
        String output = Files.readString(out, StandardCharsets.UTF_8).strip();
        assertEquals(0, process.exitValue(), props + ": " + output);
        assertNotEquals("", output, props.toString());
        return output;
    }

    /** Test-only main: prints {@link NetlibBlas#describe()}, after checking a product on that path. */
    static final class Probe {
        public static void main(String[] args) {
            Random random = new Random(7);
            int rows = 37;
            int in = 64;
            int out = 48;
            float[] x = new float[rows * in];
            float[] w = new float[out * in];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) random.nextGaussian();
            }
            for (int i = 0; i < w.length; i++) {
                w[i] = (float) random.nextGaussian();
            }
            float[] y = new float[rows * out];
            RowOps.linear(x, 0, rows, in, w, null, out, y, 0, false);
            for (int r = 0; r < rows; r++) {
                for (int o = 0; o < out; o++) {
                    double s = 0;
                    for (int k = 0; k < in; k++) {
                        s += (double) x[r * in + k] * w[o * in + k];
                    }
                    if (Math.abs(y[r * out + o] - s) > 1e-4 * (1 + Math.abs(s))) {
                        throw new AssertionError("row " + r + ", column " + o + ": " + y[r * out + o] + " vs " + s);
                    }
                }
            }
            System.out.println(NetlibBlas.describe());
        }
    }
}
