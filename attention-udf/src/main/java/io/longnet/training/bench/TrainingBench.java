package io.longnet.training.bench;

import io.longnet.attention.AttentionShape;
import io.longnet.attention.ParallelRows;
import io.longnet.attention.TrainingAttention;
import io.longnet.attention.bench.BenchCommandLine;
import io.longnet.model.AttentionPattern;
import io.longnet.model.LongNetConfig;
import io.longnet.model.NetlibBlas;
import io.longnet.model.WeightInit;
import io.longnet.training.ParameterLayout;
import io.longnet.training.TrainableModel;
import io.longnet.training.TrainingAttentions;
import java.io.IOException;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Float64 training throughput on the CPU: times {@link TrainableModel#lossAndGradient} (what
 * {@code longnet train} runs once per window in a Spark task) for a model config and a window of
 * {@code N} seeded random tokens, on {@code --threads} threads (default one; a Spark task runs it on
 * {@code spark.task.cpus}), and splits the time between attention (forward and
 * backward, timed by wrapping the {@link TrainingAttention}) and the rest. A second pass composes the
 * model's public row-local pieces exactly as {@code lossAndGradient} does, with a clock around each, to
 * show where the rest goes. Prints tokens/s, and GFLOP/s counting {@code 6} flops per parameter and token
 * (attention's own work not counted). The loss and a gradient checksum are printed so that runs of
 * different builds can be compared for the same result.
 *
 * <pre>java -cp attention-udf/target/classes io.longnet.training.bench.TrainingBench
 *     --config docs/experiments/longnet-2k.json [--n 2048] [--iters 5] [--warmup 2] [--seed 1] [--threads 1]</pre>
 */
public final class TrainingBench {

    private TrainingBench() {
    }

    public static void main(String[] args) {
        System.exit(BenchCommandLine.execute(new Options(), args, System.out, System.err));
    }

    @Command(name = "TrainingBench", mixinStandardHelpOptions = true, sortOptions = false,
            description = "Times the float64 training step (loss and gradient of one window) on the CPU.")
    static final class Options implements Callable<Integer> {

        @Option(names = "--config", required = true, paramLabel = "model.json",
                description = "model config JSON, e.g. docs/experiments/longnet-2k.json")
        Path config;

        @Option(names = "--n", converter = BenchCommandLine.Positive.class, defaultValue = "2048", paramLabel = "N",
                description = "tokens of the window (default: ${DEFAULT-VALUE})")
        int n;

        @Option(names = "--iters", converter = BenchCommandLine.Positive.class, defaultValue = "5", paramLabel = "K",
                description = "timed iterations (default: ${DEFAULT-VALUE})")
        int iters;

        @Option(names = "--warmup", defaultValue = "2", paramLabel = "K",
                description = "untimed iterations first (default: ${DEFAULT-VALUE})")
        int warmup;

        @Option(names = "--seed", defaultValue = "1", paramLabel = "S",
                description = "seed of the weights and the tokens (default: ${DEFAULT-VALUE})")
        long seed;

        @Option(names = "--threads", converter = BenchCommandLine.Positive.class, defaultValue = "1", paramLabel = "T",
                description = "threads of the step: the model's pieces and the dilated attention, as a task with"
                        + " spark.task.cpus=T runs it (default: ${DEFAULT-VALUE})")
        int threads;

        @Override
        public Integer call() throws IOException {
            run(this);
            return 0;
        }
    }

    /** Wraps an attention and adds up the nanoseconds of its forward and backward calls. */
    private static final class TimedAttention implements TrainingAttention {
        private final TrainingAttention inner;
        long forwardNanos;
        long backwardNanos;

        TimedAttention(TrainingAttention inner) {
            this.inner = inner;
        }

        @Override
        public AttentionShape shape() {
            return inner.shape();
        }

        @Override
        public void forward(double[] q, double[] k, double[] v, int n, double[] o, double[] lse) {
            long t = System.nanoTime();
            inner.forward(q, k, v, n, o, lse);
            forwardNanos += System.nanoTime() - t;
        }

        @Override
        public void backward(double[] q, double[] k, double[] v, int n, double[] o, double[] lse, double[] dO,
                             double[] dq, double[] dk, double[] dv) {
            long t = System.nanoTime();
            inner.backward(q, k, v, n, o, lse, dO, dq, dk, dv);
            backwardNanos += System.nanoTime() - t;
        }
    }

    /** The pieces of the second pass, in the order they run. */
    private enum Piece {
        EMBED("embed"), ATTN_INPUTS("LN + q,k,v + xPos"), ATTN_FORWARD("attention forward"),
        ATTN_OUTPUT("sub-LN + out_proj"), FFN("feed-forward"), HEAD("head (LN, logits, NLL)"),
        HEAD_BACKWARD("head backward"), FFN_BACKWARD("feed-forward backward"),
        ATTN_OUTPUT_BACKWARD("sub-LN + out_proj backward"), ATTN_BACKWARD("attention backward"),
        ATTN_INPUTS_BACKWARD("LN + q,k,v + xPos backward"), EMBED_BACKWARD("embed backward");

        final String label;

        Piece(String label) {
            this.label = label;
        }
    }

    /** The JVM's CPU time, for a measure that other work on the machine disturbs less than the wall clock. */
    private static final com.sun.management.OperatingSystemMXBean PROCESS =
            (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    /** The calling thread's CPU time: with several threads, the step's serial part (the pool's threads wait). */
    private static final ThreadMXBean THREAD = ManagementFactory.getThreadMXBean();

    static void run(Options opt) throws IOException {
        LongNetConfig config = LongNetConfig.read(opt.config);
        double[] params = ParameterLayout.of(config).flatten(WeightInit.initialize(config, opt.seed));
        try (ParallelRows threads = new ParallelRows(opt.threads)) {
            run(opt, config, params, new TrainableModel(config, params, threads),
                    TrainingAttentions.of(config, threads));
        }
    }

    private static void run(Options opt, LongNetConfig config, double[] params, TrainableModel model,
                            TrainingAttention base) {
        int n = opt.n;
        int[] tokens = new int[n];
        SplittableRandom random = new SplittableRandom(opt.seed);
        for (int i = 0; i < n; i++) {
            tokens[i] = random.nextInt(config.vocabSize());
        }
        TimedAttention attention = new TimedAttention(base);
        long paramCount = params.length;
        System.out.printf(Locale.ROOT, "float64 training, %s: %s, %,d parameters, N=%d, attention %s, %d thread(s),"
                + " products on %s, java %s%n", opt.config, describe(config), paramCount, n,
                config.attentionPattern() == AttentionPattern.STRIDED ? "strided " + config.stride()
                        : config.branchesSpec(), opt.threads, NetlibBlas.describe(), Runtime.version());

        double[] grad = new double[params.length];
        double loss = 0;
        for (int i = 0; i < opt.warmup; i++) {
            Arrays.fill(grad, 0);
            loss = model.lossAndGradient(tokens, attention, grad);
        }
        System.out.printf(Locale.ROOT, "%6s %10s %11s %9s %9s %9s %9s %9s%n", "iter", "ms", "tokens/s", "GFLOP/s",
                "attn fwd", "attn bwd", "rest", "cpu ms");
        long gcBefore = gcMillis();
        long[] totals = new long[opt.iters];
        long[] fwd = new long[opt.iters];
        long[] bwd = new long[opt.iters];
        long[] cpu = new long[opt.iters];
        long[] callerCpu = new long[opt.iters];
        for (int i = 0; i < opt.iters; i++) {
            Arrays.fill(grad, 0);
            attention.forwardNanos = 0;
            attention.backwardNanos = 0;
            long c = PROCESS.getProcessCpuTime();
            long own = THREAD.getCurrentThreadCpuTime();
            long t = System.nanoTime();
            loss = model.lossAndGradient(tokens, attention, grad);
            totals[i] = System.nanoTime() - t;
            callerCpu[i] = THREAD.getCurrentThreadCpuTime() - own;
            cpu[i] = PROCESS.getProcessCpuTime() - c;
            fwd[i] = attention.forwardNanos;
            bwd[i] = attention.backwardNanos;
            printRow(String.valueOf(i + 1), totals[i], fwd[i], bwd[i], cpu[i], n, paramCount);
        }
        int best = 0;
        for (int i = 1; i < totals.length; i++) {
            if (totals[i] < totals[best]) {
                best = i;
            }
        }
        long gc = gcMillis() - gcBefore;
        printRow("best", totals[best], fwd[best], bwd[best], cpu[best], n, paramCount);
        long[] sorted = totals.clone();
        Arrays.sort(sorted);
        long[] cpuSorted = cpu.clone();
        Arrays.sort(cpuSorted);
        System.out.printf(Locale.ROOT, "median CPU time %.1f ms (all of the JVM's threads: steadier than the wall clock"
                + " on a machine shared with other work)%n", cpuSorted[cpuSorted.length / 2] / 1e6);
        Arrays.sort(callerCpu);
        System.out.printf(Locale.ROOT, "median CPU time of the calling thread %.1f ms (with --threads > 1: the step's"
                + " serial part, while the pool's threads wait)%n", callerCpu[callerCpu.length / 2] / 1e6);
        System.out.printf(Locale.ROOT, "median %.1f ms = %,.0f tokens/s; loss %.17g (%.6f per token), gradient"
                + " sum %.17g, |gradient|^2 %.17g; GC %.1f ms per iteration%n", sorted[sorted.length / 2] / 1e6,
                n / (sorted[sorted.length / 2] / 1e9), loss, loss / (n - 1), sum(grad), sumSquares(grad),
                (double) gc / opt.iters);

        long[] pieces = new long[Piece.values().length];
        for (int i = 0; i < opt.iters; i++) {
            Arrays.fill(grad, 0);
            long[] once = new long[pieces.length];
            piecewise(model, tokens, attention, grad, once);
            for (int p = 0; p < pieces.length; p++) {
                pieces[p] += once[p];
            }
        }
        long all = 0;
        for (long p : pieces) {
            all += p;
        }
        System.out.printf(Locale.ROOT, "where the time goes (pieces timed apart, mean of %d):%n", opt.iters);
        for (Piece p : Piece.values()) {
            double ms = pieces[p.ordinal()] / 1e6 / opt.iters;
            System.out.printf(Locale.ROOT, "  %-28s %9.1f ms %5.1f%%%n", p.label, ms, 100.0 * pieces[p.ordinal()] / all);
        }
        System.out.printf(Locale.ROOT, "  %-28s %9.1f ms%n", "total", all / 1e6 / opt.iters);
    }

    /** {@code lossAndGradient}, composed of the model's public pieces, with the time of each added to {@code nanos}. */
    private static double piecewise(TrainableModel model, int[] tokens, TrainingAttention attention, double[] grad,
                                    long[] nanos) {
        LongNetConfig config = model.config();
        int n = tokens.length;
        int width = config.dModel();
        int count = config.layers();
        TrainableModel.AttentionInputs[] inputs = new TrainableModel.AttentionInputs[count];
        double[][] outputs = new double[count][];
        double[][] lses = new double[count][];
        TrainableModel.AttentionOutput[] attended = new TrainableModel.AttentionOutput[count];
        TrainableModel.FeedForward[] fed = new TrainableModel.FeedForward[count];
        long t = System.nanoTime();
        double[] x = model.embed(tokens);
        t = lap(nanos, Piece.EMBED, t);
        for (int l = 0; l < count; l++) {
            TrainableModel.AttentionInputs in = model.attentionInputs(l, x, n, 0, n);
            t = lap(nanos, Piece.ATTN_INPUTS, t);
            double[] o = new double[n * width];
            double[] lse = new double[n * config.heads()];
            attention.forward(in.q(), in.k(), in.v(), n, o, lse);
            t = lap(nanos, Piece.ATTN_FORWARD, t);
            TrainableModel.AttentionOutput a = model.attentionOutput(l, x, o, n);
            t = lap(nanos, Piece.ATTN_OUTPUT, t);
            TrainableModel.FeedForward f = model.feedForward(l, a.y(), n);
            t = lap(nanos, Piece.FFN, t);
            x = f.y();
            inputs[l] = in;
            outputs[l] = o;
            lses[l] = lse;
            attended[l] = a;
            fed[l] = f;
        }
        TrainableModel.Head head = model.head(x, n, Arrays.copyOfRange(tokens, 1, n), n - 1);
        t = lap(nanos, Piece.HEAD, t);
        double[] dx = model.headBackward(head, grad);
        t = lap(nanos, Piece.HEAD_BACKWARD, t);
        for (int l = count - 1; l >= 0; l--) {
            double[] dMid = model.feedForwardBackward(fed[l], dx, grad);
            t = lap(nanos, Piece.FFN_BACKWARD, t);
            double[] dO = model.attentionOutputBackward(attended[l], dMid, grad);
            t = lap(nanos, Piece.ATTN_OUTPUT_BACKWARD, t);
            TrainableModel.AttentionInputs in = inputs[l];
            double[] dq = new double[n * width];
            double[] dk = new double[n * width];
            double[] dv = new double[n * width];
            attention.backward(in.q(), in.k(), in.v(), n, outputs[l], lses[l], dO, dq, dk, dv);
            t = lap(nanos, Piece.ATTN_BACKWARD, t);
            dx = model.attentionInputsBackward(in, dq, dk, dv, grad);
            for (int i = 0; i < dx.length; i++) {
                dx[i] += dMid[i];
            }
            t = lap(nanos, Piece.ATTN_INPUTS_BACKWARD, t);
        }
        model.embedBackward(tokens, dx, grad);
        lap(nanos, Piece.EMBED_BACKWARD, t);
        return head.loss();
    }

    /** Milliseconds all collectors have spent so far. */
    private static long gcMillis() {
        long ms = 0;
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            ms += Math.max(0, gc.getCollectionTime());
        }
        return ms;
    }

    private static long lap(long[] nanos, Piece piece, long since) {
        long now = System.nanoTime();
        nanos[piece.ordinal()] += now - since;
        return now;
    }

    private static void printRow(String label, long total, long fwd, long bwd, long cpu, int n, long params) {
        double seconds = total / 1e9;
        System.out.printf(Locale.ROOT, "%6s %10.1f %11.0f %9.2f %9.1f %9.1f %9.1f %9.1f%n", label, total / 1e6,
                n / seconds, 6.0 * params * n / seconds / 1e9, fwd / 1e6, bwd / 1e6, (total - fwd - bwd) / 1e6,
                cpu / 1e6);
    }

    private static String describe(LongNetConfig c) {
        return "vocab " + c.vocabSize() + ", d_model " + c.dModel() + ", " + c.heads() + " heads, " + c.layers()
                + " layers, ffn " + c.ffnDim() + (c.subLn() ? ", sub-LN" : "");
    }

    private static double sum(double[] a) {
        double s = 0;
        for (double x : a) {
            s += x;
        }
        return s;
    }

    private static double sumSquares(double[] a) {
        double s = 0;
        for (double x : a) {
            s += x * x;
        }
        return s;
    }
}
