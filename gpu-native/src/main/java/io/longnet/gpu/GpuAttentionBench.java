package io.longnet.gpu;

import static io.longnet.gpu.CudaException.check;

import io.longnet.attention.Branch;
import io.longnet.attention.DilatedAttentionConfig;
import io.longnet.attention.bench.BenchCommandLine;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import jcuda.Pointer;
import jcuda.driver.CUevent;
import jcuda.driver.JCudaDriver;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * The GPU kernels on device-resident bf16 inputs: config A (H=12, d=64, the paper's five branches) and
 * config B (H=4, d=32, 256:1,512:2,1024:4), causal and not. Times, with CUDA events, the initialisation
 * of o/lse and every branch launch (attention only, as the torchscale figure it is compared with);
 * 3 warm-up runs, then the median of {@code reps} runs rotating over 3 input sets.
 *
 * <pre>java -cp ... io.longnet.gpu.GpuAttentionBench [reps] [A:N,N..] [B:N,..]</pre>
 */
@Command(name = "GpuAttentionBench", mixinStandardHelpOptions = true,
        description = "The GPU kernels on device-resident bf16 inputs, configs A and B, causal and not.")
public final class GpuAttentionBench implements Callable<Integer> {

    private static final DilatedAttentionConfig CONFIG_A = DilatedAttentionConfig.of(
            Branch.parseList("2048:1,4096:2,8192:4,16384:6,32768:12"), 12, 64, false);
    private static final DilatedAttentionConfig CONFIG_B =
            DilatedAttentionConfig.of(Branch.parseList("256:1,512:2,1024:4"), 4, 32, false);

    @Parameters(index = "0", arity = "0..1", defaultValue = "20", paramLabel = "REPS",
            converter = BenchCommandLine.Positive.class, description = "timed runs per row, median printed (default: 20)")
    int reps;

    @Parameters(index = "1", arity = "0..1", defaultValue = "A:32768,131072,524288,1048576", paramLabel = "A:N,..",
            converter = Sizes.Converter.class, description = "a config and its lengths (default: ${DEFAULT-VALUE})")
    Sizes first;

    @Parameters(index = "2", arity = "0..1", defaultValue = "B:1048576", paramLabel = "B:N,..",
            converter = Sizes.Converter.class, description = "another (default: ${DEFAULT-VALUE})")
    Sizes second;

    /**
     * Sequence lengths for config {@code A} (the paper's, H=12, d=64) or {@code B} (H=4, d=32), written
     * {@code A:N,N..}.
     */
    record Sizes(String name, DilatedAttentionConfig config, List<Integer> lengths) {

        static Sizes parse(String spec) {
            String name = spec.length() > 2 && spec.charAt(1) == ':' ? spec.substring(0, 1) : "";
            DilatedAttentionConfig config = switch (name) {
                case "A" -> CONFIG_A;
                case "B" -> CONFIG_B;
                default -> throw new IllegalArgumentException("'" + spec + "': expected A:N,N.. or B:N,N.. (config A"
                        + " or B and sequence lengths, e.g. A:32768,131072)");
            };
            List<Integer> lengths = new ArrayList<>();
            BenchCommandLine.Positive positive = new BenchCommandLine.Positive();
            for (String n : spec.substring(2).split(",")) {
                lengths.add(positive.convert(n));
            }
            return new Sizes(name, config, List.copyOf(lengths));
        }

        @Override
        public String toString() {
            return name + ":" + lengths.stream().map(String::valueOf).collect(Collectors.joining(","));
        }

        static final class Converter implements CommandLine.ITypeConverter<Sizes> {
            @Override
            public Sizes convert(String value) {
                return parse(value);
            }
        }
    }

    public static void main(String[] args) {
        System.exit(BenchCommandLine.execute(new GpuAttentionBench(), args, System.out, System.err));
    }

    @Override
    public Integer call() {
        try (GpuAttentionKernel kernel = new GpuAttentionKernel(0, Precision.BF16)) {
            System.out.printf(Locale.ROOT, "device: %s; bf16 inputs, fp32 softmax/accumulation and output; median of %d%n",
                    kernel.device().name(), reps);
            System.out.printf(Locale.ROOT, "%6s %9s %7s %10s %14s %10s%n", "config", "N", "causal", "ms", "tokens/s",
                    "TFLOP/s");
            for (Sizes spec : List.of(first, second)) {
                for (int n : spec.lengths()) {
                    for (boolean causal : new boolean[] {false, true}) {
                        run(kernel, spec.name(), spec.config().withCausal(causal), n, reps);
                    }
                }
            }
        }
        return 0;
    }

    private static void run(GpuAttentionKernel kernel, String name, DilatedAttentionConfig c, int n, int reps) {
        long elems = (long) n * c.rowWidth();
        CudaDevice device = kernel.device();
        device.makeCurrent();
        DeviceBuffer[][] sets = new DeviceBuffer[3][3];
        try (DeviceBuffer o = new DeviceBuffer(elems * 4); DeviceBuffer lse = new DeviceBuffer((long) n * c.heads() * 4)) {
            for (int s = 0; s < 3; s++) {
                for (int t = 0; t < 3; t++) {
                    sets[s][t] = new DeviceBuffer(elems * 2);
                    Pointer args = Pointer.to(Pointer.to(sets[s][t].pointer()), Pointer.to(new long[] {elems}),
                            Pointer.to(new long[] {1000L * s + t + 1}));
                    check(JCudaDriver.cuLaunchKernel(device.function("fill_uniform_bf16", 0), 4096, 1, 1, 256, 1, 1, 0,
                            null, args, null), "cuLaunchKernel(fill_uniform_bf16)");
                }
            }
            check(JCudaDriver.cuCtxSynchronize(), "cuCtxSynchronize (inputs)");
            CUevent start = new CUevent();
            CUevent stop = new CUevent();
            check(JCudaDriver.cuEventCreate(start, 0), "cuEventCreate");
            check(JCudaDriver.cuEventCreate(stop, 0), "cuEventCreate");
            float[] ms = new float[reps];
            for (int i = -3; i < reps; i++) {
                DeviceBuffer[] in = sets[(i + 3) % 3];
                check(JCudaDriver.cuEventRecord(start, null), "cuEventRecord");
                kernel.launchBranches(c, c.branches(), n, in[0], in[1], in[2], o, lse, null);
                check(JCudaDriver.cuEventRecord(stop, null), "cuEventRecord");
                check(JCudaDriver.cuEventSynchronize(stop), "cuEventSynchronize (dilated attention kernels)");
                if (i >= 0) {
                    float[] t = new float[1];
                    check(JCudaDriver.cuEventElapsedTime(t, start, stop), "cuEventElapsedTime");
                    ms[i] = t[0];
                }
            }
            JCudaDriver.cuEventDestroy(start);
            JCudaDriver.cuEventDestroy(stop);
            Arrays.sort(ms);
            double median = reps % 2 == 1 ? ms[reps / 2] : (ms[reps / 2 - 1] + ms[reps / 2]) / 2.0;
            System.out.printf(Locale.ROOT, "%6s %9d %7s %10.3f %14.0f %10.1f%n", name, n, c.causal(), median,
                    n / (median / 1e3), c.flops(n) / (median / 1e3) / 1e12);
        } finally {
            for (DeviceBuffer[] set : sets) {
                for (DeviceBuffer buf : set) {
                    if (buf != null) {
                        buf.close();
                    }
                }
            }
        }
    }
}
