package io.longnet.model.bench;

import io.longnet.attention.VectorApi;
import io.longnet.model.NetlibBlas;
import io.longnet.model.VectorGemm;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * One linear layer's product, {@code y[rows][out] = x[rows][in] w[out][in]^T}, on one thread, by netlib's
 * BLAS (whichever it loaded) and by {@link VectorGemm}, in one run, float32 and float64: the measurement
 * behind the model's and the trainer's choice of product (docs/ARCHITECTURE.md §6). Prints GFLOP/s of the
 * thread's CPU time, the best of several calls, and the largest difference between the two results.
 * {@code -Dgemm=netlib} or {@code -Dgemm=vector} runs only one of them: run each in a JVM of its own, since
 * netlib's vector code, sharing the JDK's type profiles with the project's, can keep C2 from compiling the
 * other's vector code well.
 *
 * <pre>java --add-modules=jdk.incubator.vector -Dgemm=vector -cp attention-udf/target/attention-udf-0.1.0-SNAPSHOT.jar \
 *     io.longnet.model.bench.GemmBench [rows in out]... </pre>
 */
public final class GemmBench {

    /** The thread's CPU time, not the wall clock: other work on a shared machine does not count. */
    private static final java.lang.management.ThreadMXBean CPU = java.lang.management.ManagementFactory.getThreadMXBean();
    private static final boolean NETLIB = !"vector".equals(System.getProperty("gemm"));
    private static final boolean OURS = !"netlib".equals(System.getProperty("gemm"));

    private GemmBench() {
    }

    public static void main(String[] args) {
        if (!VectorApi.available()) {
            System.err.println("GemmBench needs the Vector API: run java with " + VectorApi.JVM_OPTION);
            System.exit(2);
        }
        int[] shapes = args.length == 0 ? new int[] {4096, 256, 1024, 4096, 1024, 256, 4096, 256, 256, 2048, 256, 1024}
                : java.util.Arrays.stream(args).mapToInt(Integer::parseInt).toArray();
        System.out.println("netlib: " + NetlibBlas.library().getClass().getSimpleName() + "; vector: " + VectorApi.describe());
        System.out.println("| type | rows x in x out | netlib GFLOP/s | VectorGemm GFLOP/s | max abs difference |");
        for (int s = 0; s + 2 < shapes.length; s += 3) {
            run(shapes[s], shapes[s + 1], shapes[s + 2]);
        }
    }

    /** GFLOP/s of the best call (flops per nanosecond), or "-" for the implementation not run. */
    private static String rate(boolean ran, double flops, long nanos) {
        return ran ? String.format(Locale.ROOT, "%.1f", flops / nanos) : "-";
    }

    private static void run(int rows, int in, int out) {
        SplittableRandom random = new SplittableRandom(1);
        float[] x = new float[rows * in];
        float[] w = new float[out * in];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (random.nextDouble() - 0.5);
        }
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (random.nextDouble() - 0.5);
        }
        int reps = (int) Math.max(3, Math.min(40, 1e10 / rows / in / out));
        float[] y1 = new float[rows * out];
        float[] y2 = new float[rows * out];
        report("float32", rows, in, out, reps,
                () -> NetlibBlas.library().sgemm("T", "N", out, rows, in, 1f, w, 0, in, x, 0, in, 0f, y1, 0, out),
                () -> {
                    java.util.Arrays.fill(y2, 0f);
                    VectorGemm.mulAdd(x, 0, in, 1, rows, in, w, 0, 1, in, out, y2, 0, out);
                },
                i -> Math.abs(y1[i] - y2[i]), y1.length);
        double[] xd = new double[x.length];
        double[] wd = new double[w.length];
        for (int i = 0; i < x.length; i++) {
            xd[i] = x[i];
        }
        for (int i = 0; i < w.length; i++) {
            wd[i] = w[i];
        }
        double[] z1 = new double[rows * out];
        double[] z2 = new double[rows * out];
        report("float64", rows, in, out, reps,
                () -> NetlibBlas.library().dgemm("T", "N", out, rows, in, 1.0, wd, 0, in, xd, 0, in, 0.0, z1, 0, out),
                () -> {
                    java.util.Arrays.fill(z2, 0.0);
                    VectorGemm.mulAdd(xd, 0, in, 1, rows, in, wd, 0, 1, in, out, z2, 0, out);
                },
                i -> Math.abs(z1[i] - z2[i]), z1.length);
    }

    /** Times the two products (those this JVM runs), the best of {@code reps} calls each, and prints a row. */
    private static void report(String type, int rows, int in, int out, int reps, Runnable netlib, Runnable ours,
                               java.util.function.IntToDoubleFunction difference, int size) {
        long bestNetlib = Long.MAX_VALUE;
        long bestOurs = Long.MAX_VALUE;
        for (int r = 0; r < reps; r++) {
            long t0 = CPU.getCurrentThreadCpuTime();
            if (NETLIB) {
                netlib.run();
            }
            long t1 = CPU.getCurrentThreadCpuTime();
            if (OURS) {
                ours.run();
            }
            long t2 = CPU.getCurrentThreadCpuTime();
            bestNetlib = Math.min(bestNetlib, t1 - t0);
            bestOurs = Math.min(bestOurs, t2 - t1);
        }
        double diff = 0;
        for (int i = 0; i < size; i++) {
            diff = Math.max(diff, difference.applyAsDouble(i));
        }
        double flops = 2.0 * rows * in * out;
        System.out.printf(Locale.ROOT, "| %s | %d x %d x %d | %s | %s | %s |%n", type, rows, in, out,
                rate(NETLIB, flops, bestNetlib), rate(OURS, flops, bestOurs),
                NETLIB && OURS ? String.format(Locale.ROOT, "%.2g", diff) : "-");
    }
}
