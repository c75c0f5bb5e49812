package io.longnet.attention.bench;

import io.longnet.attention.AttentionKernel;
import io.longnet.attention.Branch;
import io.longnet.attention.CpuAttentionKernel;
import io.longnet.attention.DilatedAttentionConfig;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The engine's self-check and benchmark on synthetic data: for each N and causal flag, dilated attention
 * over N random positions, processed in chunks of at most {@code --chunk} positions (a multiple of every
 * segment length, so chunking changes nothing in the result: every segment lies inside one chunk; memory
 * stays bounded however large N is). Prints ms (the median of {@code --repeats} passes over N, as the
 * PyTorch peer reports its median), tokens/s and GFLOP/s of true work (per head and branch
 * {@code 4 N w d / r^2}, half when causal), then checks sampled rows against a float64 evaluation.
 *
 * <pre>java -Xmx3g -cp attention-udf/target/attention-udf-*.jar io.longnet.attention.bench.AttentionBench
 *     [--sizes 65536,1048576] [--branches 256:1,512:2,1024:4] [--heads 4] [--dim 32]
 *     [--causal both|true|false] [--threads T] [--chunk 1048576] [--warmup 1] [--repeats 1]</pre>
 */
@Command(name = "AttentionBench", mixinStandardHelpOptions = true,
        description = "Dilated attention of the CPU engine on random inputs, timed and checked against float64.")
public final class AttentionBench implements Callable<Integer> {

    @Option(names = "--sizes", split = ",", defaultValue = "65536,1048576", paramLabel = "N,...",
            converter = BenchCommandLine.Positive.class, description = "sequence lengths (default: 65536,1048576)")
    List<Integer> sizes;

    @Mixin
    SyntheticAttentionOptions attention;

    @Option(names = "--threads", paramLabel = "T", converter = BenchCommandLine.Positive.class,
            description = "CPU threads (default: the available processors)")
    int threads = Runtime.getRuntime().availableProcessors();

    @Option(names = "--chunk", defaultValue = "1048576", paramLabel = "C", converter = BenchCommandLine.Positive.class,
            description = "positions per call, a multiple of every segment length (default: 1048576)")
    int chunk;

    @Option(names = "--warmup", defaultValue = "1", paramLabel = "K", description = "warm-up calls (default: 1)")
    int warmup;

    @Option(names = "--repeats", defaultValue = "1", paramLabel = "R", converter = BenchCommandLine.Positive.class,
            description = "timed passes over each N; the median is printed (default: 1)")
    int repeats;

    public static void main(String[] args) {
        System.exit(BenchCommandLine.execute(new AttentionBench(), args, System.out, System.err));
    }

    @Override
    public Integer call() {
        DilatedAttentionConfig base = attention.config();
        for (Branch b : base.branches()) {
            if (chunk % b.segmentLength() != 0) {
                throw new IllegalArgumentException("--chunk " + chunk + " is not a multiple of segment length "
                        + b.segmentLength() + " of branch " + b);
            }
        }
        int maxChunk = 0;
        for (int n : sizes) {
            maxChunk = Math.max(maxChunk, Math.min(n, chunk));
        }
        int width = base.rowWidth();
        if ((long) maxChunk * width > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("--chunk " + chunk + " x H x d exceeds one buffer: use a smaller chunk");
        }
        System.out.printf(Locale.ROOT, "dilated attention, CPU engine: branches %s, H=%d, d=%d, fp32, %d threads,"
                + " chunk %d positions, java %s%n", base.branches(), base.heads(), base.headDim(), threads, chunk,
                Runtime.version());
        FloatBuffer q = FloatBuffer.allocate(maxChunk * width);
        FloatBuffer k = FloatBuffer.allocate(maxChunk * width);
        FloatBuffer v = FloatBuffer.allocate(maxChunk * width);
        FloatBuffer o = FloatBuffer.allocate(maxChunk * width);
        FloatBuffer lse = FloatBuffer.allocate(maxChunk * base.heads());
        try (AttentionKernel kernel = new CpuAttentionKernel(threads)) {
            System.out.println("tiles: " + CpuAttentionKernel.tiles());
            System.out.printf(Locale.ROOT, "%12s %7s %11s %14s %10s %10s %11s %12s%n",
                    "N", "causal", "ms", "tokens/s", "ns/token", "GFLOP/s", "heap MiB", "max rel err");
            for (int n : sizes) {
                for (boolean masked : attention.causal()) {
                    DilatedAttentionConfig config = base.withCausal(masked);
                    int first = Math.min(n, chunk);
                    for (int i = 0; i < warmup; i++) {
                        fill(q, k, v, first * width, 1000 + i);
                        kernel.forward(config, q, k, v, first, o, lse);
                    }
                    resetPeakHeap();
                    long[] passes = new long[repeats];
                    double error = 0;
                    for (int pass = 0; pass < repeats; pass++) {
                        int chunkIndex = 0;
                        for (long done = 0; done < n; done += chunk, chunkIndex++) {
                            int len = (int) Math.min(chunk, n - done);
                            fill(q, k, v, len * width, n * 31L + chunkIndex);
                            long t0 = System.nanoTime();
                            kernel.forward(config, q, k, v, len, o, lse);
                            passes[pass] += System.nanoTime() - t0;
                            if (pass == 0 && chunkIndex == 0) {
                                error = selfCheck(config, q, k, v, len, o, lse);
                            }
                        }
                    }
                    Arrays.sort(passes);
                    long nanos = passes[repeats / 2];
                    double seconds = nanos / 1e9;
                    System.out.printf(Locale.ROOT, "%12d %7s %11.1f %14.0f %10.1f %10.1f %11d %12.2e%n",
                            n, masked, seconds * 1e3, n / seconds, nanos / (double) n,
                            config.flops(n) / seconds / 1e9, peakHeapMiB(), error);
                    if (!(error < 1e-5)) {
                        throw new IllegalStateException("self-check failed: relative error " + error
                                + " against float64 exceeds 1e-5");
                    }
                }
            }
        }
        return 0;
    }

    /** Fresh inputs for each chunk: no cache can carry over. */
    private static void fill(FloatBuffer q, FloatBuffer k, FloatBuffer v, int count, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        for (FloatBuffer b : new FloatBuffer[] {q, k, v}) {
            uniform(b.array(), count, rnd.nextLong());
        }
    }

    /**
     * {@code a[0, count)} uniform in (-1, 1), never all zero: xorshift, fast enough that generating
     * benchmark inputs of millions of positions costs little beside the attention.
     */
    public static void uniform(float[] a, int count, long seed) {
        long x = seed | 1;
        for (int i = 0; i < count; i++) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            a[i] = (x >>> 40) * 0x1.0p-23f - 1f;
        }
    }

    /** Largest relative error of 64 sampled rows (o and lse) against their float64 values. */
    private static double selfCheck(DilatedAttentionConfig c, FloatBuffer q, FloatBuffer k, FloatBuffer v,
                                    int n, FloatBuffer o, FloatBuffer lse) {
        SplittableRandom rnd = new SplittableRandom(n);
        int d = c.headDim();
        double maxDiff = 0;
        double maxRef = 0;
        double maxLseDiff = 0;
        double maxLse = 0;
        for (int s = 0; s < 64; s++) {
            int p = s == 0 ? n - 1 : rnd.nextInt(n);
            int h = rnd.nextInt(c.heads());
            ExactRow exact = ExactRow.compute(c, q, k, v, n, p, h);
            for (int e = 0; e < d; e++) {
                maxDiff = Math.max(maxDiff, Math.abs(o.get((p * c.heads() + h) * d + e) - exact.o[e]));
                maxRef = Math.max(maxRef, Math.abs(exact.o[e]));
            }
            maxLseDiff = Math.max(maxLseDiff, Math.abs(lse.get(p * c.heads() + h) - exact.lse));
            maxLse = Math.max(maxLse, Math.abs(exact.lse));
        }
        return Math.max(maxDiff / maxRef, maxLseDiff / maxLse);
    }

    private static void resetPeakHeap() {
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP) {
                pool.resetPeakUsage();
            }
        }
    }

    private static long peakHeapMiB() {
        long peak = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP) {
                peak += pool.getPeakUsage().getUsed();
            }
        }
        return peak >> 20;
    }
}
