package io.longnet.attention.bench;

import io.longnet.attention.AttentionKernel;
import io.longnet.attention.Branch;
import io.longnet.attention.CpuAttentionKernel;
import io.longnet.attention.DilatedAttentionConfig;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The engine's self-check and benchmark on synthetic data: for each N and causal flag, dilated attention
 * over N random positions, processed in chunks of at most {@code --chunk} positions (a multiple of every
 * segment length, so chunking changes nothing in the result: every segment lies inside one chunk; memory
 * stays bounded however large N is). Prints ms, tokens/s and GFLOP/s of true work (per head and branch
 * {@code 4 N w d / r^2}, half when causal), then checks sampled rows against a float64 evaluation.
 *
 * <pre>java -Xmx3g -cp attention-udf/target/attention-udf-*.jar io.longnet.attention.bench.AttentionBench
 *     [--sizes 65536,1048576] [--branches 256:1,512:2,1024:4] [--heads 4] [--dim 32]
 *     [--causal both|true|false] [--threads T] [--chunk 1048576] [--warmup 1]</pre>
 */
public final class AttentionBench {

    private AttentionBench() {
    }

    public static void main(String[] args) {
        try {
            run(Options.parse(args));
        } catch (IllegalArgumentException e) {
            System.err.println("bench: " + e.getMessage());
            System.exit(2);
        }
    }

    record Options(List<Integer> sizes, List<Branch> branches, int heads, int dim, List<Boolean> causal,
                   int threads, int chunk, int warmup) {

        static Options parse(String[] args) {
            List<Integer> sizes = List.of(65_536, 1_048_576);
            List<Branch> branches = Branch.parseList("256:1,512:2,1024:4");
            int heads = 4;
            int dim = 32;
            List<Boolean> causal = List.of(false, true);
            int threads = Runtime.getRuntime().availableProcessors();
            int chunk = 1 << 20;
            int warmup = 1;
            for (int i = 0; i < args.length; i++) {
                String flag = args[i];
                if (flag.equals("--help") || flag.equals("-h")) {
                    System.out.println("usage: AttentionBench [--sizes N,N..] [--branches w:r,..] [--heads H]"
                            + " [--dim d] [--causal both|true|false] [--threads T] [--chunk C] [--warmup K]");
                    System.exit(0);
                }
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException(flag + " needs a value");
                }
                String value = args[++i];
                switch (flag) {
                    case "--sizes" -> {
                        sizes = new ArrayList<>();
                        for (String s : value.split(",")) {
                            sizes.add(positive("--sizes", s));
                        }
                    }
                    case "--branches" -> branches = Branch.parseList(value);
                    case "--heads" -> heads = positive(flag, value);
                    case "--dim" -> dim = positive(flag, value);
                    case "--causal" -> causal = switch (value) {
                        case "both" -> List.of(false, true);
                        case "true" -> List.of(true);
                        case "false" -> List.of(false);
                        default -> throw new IllegalArgumentException("--causal takes both, true or false");
                    };
                    case "--threads" -> threads = positive(flag, value);
                    case "--chunk" -> chunk = positive(flag, value);
                    case "--warmup" -> warmup = Integer.parseInt(value);
                    default -> throw new IllegalArgumentException("unknown option " + flag + " (try --help)");
                }
            }
            return new Options(sizes, branches, heads, dim, causal, threads, chunk, warmup);
        }

        private static int positive(String flag, String value) {
            try {
                int v = Integer.parseInt(value.trim());
                if (v >= 1) {
                    return v;
                }
            } catch (NumberFormatException e) {
                // fall through to the message
            }
            throw new IllegalArgumentException(flag + " takes whole numbers >= 1 (got '" + value + "')");
        }
    }

    static void run(Options opt) {
        DilatedAttentionConfig base = DilatedAttentionConfig.of(opt.branches(), opt.heads(), opt.dim(), false);
        int chunk = opt.chunk();
        for (Branch b : base.branches()) {
            if (chunk % b.segmentLength() != 0) {
                throw new IllegalArgumentException("--chunk " + chunk + " is not a multiple of segment length "
                        + b.segmentLength() + " of branch " + b);
            }
        }
        int maxChunk = 0;
        for (int n : opt.sizes()) {
            maxChunk = Math.max(maxChunk, Math.min(n, chunk));
        }
        int width = base.rowWidth();
        if ((long) maxChunk * width > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("--chunk " + chunk + " x H x d exceeds one buffer: use a smaller chunk");
        }
        System.out.printf(Locale.ROOT, "dilated attention, CPU engine: branches %s, H=%d, d=%d, fp32, %d threads,"
                + " chunk %d positions, java %s%n", base.branches(), opt.heads(), opt.dim(), opt.threads(), chunk,
                Runtime.version());
        FloatBuffer q = FloatBuffer.allocate(maxChunk * width);
        FloatBuffer k = FloatBuffer.allocate(maxChunk * width);
        FloatBuffer v = FloatBuffer.allocate(maxChunk * width);
        FloatBuffer o = FloatBuffer.allocate(maxChunk * width);
        FloatBuffer lse = FloatBuffer.allocate(maxChunk * opt.heads());
        System.out.printf(Locale.ROOT, "%12s %7s %11s %14s %10s %10s %11s %12s%n",
                "N", "causal", "ms", "tokens/s", "ns/token", "GFLOP/s", "heap MiB", "max rel err");
        try (AttentionKernel kernel = new CpuAttentionKernel(opt.threads())) {
            for (int n : opt.sizes()) {
                for (boolean causal : opt.causal()) {
                    DilatedAttentionConfig config = base.withCausal(causal);
                    int first = Math.min(n, chunk);
                    for (int i = 0; i < opt.warmup(); i++) {
                        fill(q, k, v, first * width, 1000 + i);
                        kernel.forward(config, q, k, v, first, o, lse);
                    }
                    resetPeakHeap();
                    long nanos = 0;
                    double error = 0;
                    int chunkIndex = 0;
                    for (long done = 0; done < n; done += chunk, chunkIndex++) {
                        int len = (int) Math.min(chunk, n - done);
                        fill(q, k, v, len * width, n * 31L + chunkIndex);
                        long t0 = System.nanoTime();
                        kernel.forward(config, q, k, v, len, o, lse);
                        nanos += System.nanoTime() - t0;
                        if (chunkIndex == 0) {
                            error = selfCheck(config, q, k, v, len, o, lse);
                        }
                    }
                    double seconds = nanos / 1e9;
                    System.out.printf(Locale.ROOT, "%12d %7s %11.1f %14.0f %10.1f %10.1f %11d %12.2e%n",
                            n, causal, seconds * 1e3, n / seconds, nanos / (double) n,
                            config.flops(n) / seconds / 1e9, peakHeapMiB(), error);
                    if (!(error < 1e-5)) {
                        throw new IllegalStateException("self-check failed: relative error " + error
                                + " against float64 exceeds 1e-5");
                    }
                }
            }
        }
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
