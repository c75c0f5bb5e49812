package io.longnet.jobs;

import io.longnet.attention.Backend;
import io.longnet.attention.Branch;
import io.longnet.attention.BranchTemplate;
import io.longnet.attention.DilatedAttentionConfig;
import io.longnet.attention.VectorApi;
import io.longnet.attention.bench.SyntheticAttentionOptions;
import io.longnet.datasets.DocumentMode;
import io.longnet.tensors.TensorFormatException;
import io.longnet.spark.PartitionPlan;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.PrintStream;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The {@code longnet} command line: the same entry point under {@code spark-submit --class
 * io.longnet.jobs.Main} on a cluster and through {@code bin/longnet} on the embedded {@code local[*]}.
 * Bad input ends in one line on stderr and exit code 2, found before Spark starts where it can be
 * ({@link Preflight}); any other failure in one line (and a hint for the stack trace) and exit code 1.
 */
@Command(name = "longnet", mixinStandardHelpOptions = true, version = "longnet-spark 0.1.0",
        description = "LongNet dilated attention on Apache Spark.",
        subcommands = {Main.Tokenize.class, Main.Attend.class, Main.InitModel.class, Main.Import.class, Main.Score.class, Main.Encode.class,
                Main.Train.class, Main.SynthCorpus.class, Main.Bench.class, Main.Clean.class})
public final class Main implements Callable<Integer> {

    /** What to do about a driver without enough memory: the flags that give it more, wherever it runs. */
    static final String MEMORY_ADVICE = "give the driver more memory, e.g. bin/longnet --driver-memory 4g"
            + " (or LONGNET_JAVA_OPTS=-Xmx4g; under spark-submit, its --driver-memory 4g)";

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** Without a command: the usage, on stderr, and exit code 2 (a command is missing). */
    @Override
    public Integer call() {
        return usageError(spec);
    }

    /** The usage of a command run without its subcommand, on stderr; exit code 2. */
    static int usageError(CommandLine.Model.CommandSpec spec) {
        spec.commandLine().usage(spec.commandLine().getErr());
        return 2;
    }

    public static void main(String[] args) {
        System.exit(execute(args, System.out, System.err));
    }

    /** Runs the CLI; returns the exit code. */
    static int execute(String[] args, PrintStream out, PrintStream err) {
        return execute(commandLine(out, err), args, err);
    }

    /**
     * Runs {@code cli}; a driver out of memory ends in one line with the advice (picocli passes errors
     * through, and Spark only handles its tasks' own).
     */
    static int execute(CommandLine cli, String[] args, PrintStream err) {
        try {
            return cli.execute(args);
        } catch (OutOfMemoryError e) {
            err.println(outOfMemory());
            return 2;
        }
    }

    private static String outOfMemory() {
        return "longnet: out of memory (the driver's heap is " + (Runtime.getRuntime().maxMemory() >> 20) + " MiB): "
                + MEMORY_ADVICE;
    }

    /** The command tree with its converters and its error handlers, writing to {@code out} and {@code err}. */
    static CommandLine commandLine(PrintStream out, PrintStream err) {
        CommandLine cli = new CommandLine(new Main());
        cli.setOut(new java.io.PrintWriter(out, true));
        cli.setErr(new java.io.PrintWriter(err, true));
        // Enum-valued options parse through the enums' own parse, so the CLI and the ML params accept the
        // same spellings and say the same thing about a bad one.
        cli.registerConverter(Backend.class, Backend::parse);
        cli.registerConverter(DocumentMode.class, DocumentMode::parse);
        // Every parse error in one line: the message, picocli's suggestions, where the help is.
        cli.setParameterExceptionHandler((e, line) -> {
            String command = e.getCommandLine().getCommandSpec().qualifiedName();
            if (e.getCause() instanceof IllegalArgumentException bad) {
                err.println(command + ": " + firstLine(bad));
                return 2;
            }
            String suggestions = e instanceof CommandLine.UnmatchedArgumentException unmatched
                    && !unmatched.getSuggestions().isEmpty()
                    ? "; did you mean " + String.join(" or ", unmatched.getSuggestions()) + "?" : "";
            err.println(command + ": " + firstLine(e) + suggestions + " (see " + command + " --help)");
            return 2;
        });
        // The checks before Spark starts, on the command that runs.
        cli.setExecutionStrategy(parsed -> {
            CommandLine.ParseResult last = parsed;
            while (last.hasSubcommand()) {
                last = last.subcommand();
            }
            io.longnet.storage.AtomicOutput.Claim claim = null;
            if (!last.isUsageHelpRequested() && !last.isVersionHelpRequested()) {
                try {
                    claim = Preflight.check(last.commandSpec(), err);
                } catch (IOException | RuntimeException e) {
                    throw new CommandLine.ExecutionException(last.commandSpec().commandLine(), firstLine(e), e);
                }
            }
            try {
                return new CommandLine.RunLast().execute(parsed);
            } finally {
                release(claim, last.commandSpec().qualifiedName(), err);
            }
        });
        cli.setExecutionExceptionHandler((e, line, parsed) -> {
            String command = line.getCommandSpec().qualifiedName();
            Throwable user = userError(e);
            if (user != null) {
                err.println(command + ": " + (user instanceof java.nio.file.NoSuchFileException
                        ? "no such file: " + user.getMessage() : firstLine(user)));
                if (System.getenv("LONGNET_DEBUG") != null) {
                    e.printStackTrace(err); // where a user error was found, for a report
                }
                return 2;
            }
            if (outOfMemory(e)) {
                err.println(outOfMemory());
                return 2;
            }
            err.println(command + ": failed: " + describe(cause(e)));
            if (System.getenv("LONGNET_DEBUG") != null) {
                e.printStackTrace(err);
            } else {
                err.println("(set LONGNET_DEBUG=1 for the stack trace)");
            }
            return 1;
        });
        return cli;
    }

    /** Gives up the output's claim (none: null); one that cannot be removed is named, for longnet clean. */
    private static void release(io.longnet.storage.AtomicOutput.Claim claim, String command, PrintStream err) {
        if (claim == null) {
            return;
        }
        try {
            claim.close();
        } catch (IOException e) {
            err.println(command + ": warning: could not remove the claim " + claim.path() + " (" + firstLine(e)
                    + "): the next run on its output will name it");
        }
    }

    /**
     * The bad-input error inside a failure (Spark wraps a task's exception in its own), if any: bad arguments
     * or data, a missing input, an output that exists, lies under a file or cannot be written.
     */
    static Throwable userError(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof IllegalArgumentException || t instanceof TensorFormatException
                    || t instanceof FileNotFoundException || t instanceof java.nio.file.NoSuchFileException
                    || t instanceof io.longnet.model.ModelFormatException
                    || t instanceof org.apache.hadoop.fs.FileAlreadyExistsException
                    || t instanceof java.nio.file.FileAlreadyExistsException
                    || t instanceof java.nio.file.AccessDeniedException
                    || t instanceof java.nio.file.NotDirectoryException
                    || t instanceof org.apache.hadoop.fs.ParentNotDirectoryException
                    || t instanceof org.apache.hadoop.fs.UnsupportedFileSystemException
                    || t instanceof org.apache.hadoop.security.AccessControlException) {
                return t;
            }
        }
        return null;
    }

    private static boolean outOfMemory(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof OutOfMemoryError) {
                return true;
            }
        }
        return false;
    }

    /** The innermost cause: what went wrong, under Spark's and picocli's wrappers. */
    private static Throwable cause(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t;
    }

    private static String describe(Throwable t) {
        return t.getClass().getName() + (t.getMessage() == null ? "" : ": " + firstLine(t));
    }

    /** A message's first line (a Spark failure's message holds the remote stack trace after it). */
    static String firstLine(Throwable t) {
        String message = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
        int end = message.indexOf('\n');
        return (end < 0 ? message : message.substring(0, end)).strip();
    }

    /** What a subcommand does with its session. */
    interface SparkWork {
        void run(SparkSession spark) throws Exception;
    }

    /**
     * Runs {@code work} in a session (see {@link #session}) that is stopped afterwards, whatever happens; a
     * session that was running already (a notebook's, a test's) is used and left running.
     */
    static int inSession(String appName, String master, SparkWork work) throws Exception {
        scala.Option<SparkSession> running = SparkSession.getDefaultSession();
        boolean own = running.isEmpty() || running.get().sparkContext().isStopped();
        SparkSession spark = own ? session(appName, master) : running.get();
        try {
            work.run(spark);
        } finally {
            if (own) {
                spark.stop();
            }
        }
        return 0;
    }

    static final String EXECUTOR_JAVA_OPTIONS = "spark.executor.extraJavaOptions";

    /**
     * The session: the master spark-submit gives, else {@code --master}, else {@code local[*]}. A
     * {@code spark://} master must take the application within {@link Preflight#MASTER_REGISTRATION_MILLIS}.
     */
    static SparkSession session(String appName, String master) throws Exception {
        SparkSession.Builder builder = SparkSession.builder().appName(appName);
        SparkConf given = new SparkConf(); // spark-submit's settings and spark.* system properties
        if (master != null) {
            builder.master(master);
        } else if (!given.contains("spark.master")) {
            builder.master("local[*]");
        }
        // Executors resolve the Vector API for the engine's SIMD code (docs/ARCHITECTURE.md §6); a user's
        // own options are kept.
        String executorOptions = given.get(EXECUTOR_JAVA_OPTIONS, "");
        if (!executorOptions.contains(VectorApi.MODULE)) {
            builder.config(EXECUTOR_JAVA_OPTIONS, (executorOptions + " " + VectorApi.JVM_OPTION).trim());
        }
        if (master != null && master.startsWith("spark://")) {
            return Preflight.startedWithin(builder::getOrCreate, Preflight.MASTER_REGISTRATION_MILLIS, master);
        }
        return builder.getOrCreate();
    }

    @Command(name = "attend", mixinStandardHelpOptions = true,
            description = "Dilated attention of q, k, v ([N, H, d] in a safetensors file) through the"
                    + " sequence-parallel plan; writes o [N, H, d] and lse [N, H] as float32.")
    static final class Attend implements Callable<Integer> {

        @Option(names = "--qkv", required = true, paramLabel = "IN",
                description = "safetensors file with tensors q, k, v of shape [N, H, d] (F32, F16 or BF16);"
                        + " a path or URI (file:, hdfs://)")
        String qkv;

        @Option(names = "--out", required = true, paramLabel = "OUT",
                description = "output: a .safetensors file (o, lse), otherwise a Parquet block dataset;"
                        + " must not exist unless --overwrite")
        String out;

        @CommandLine.Mixin
        OverwriteOption replace;

        @Option(names = "--branches", required = true, paramLabel = "w:r,...",
                description = "segment length and dilation of each branch, e.g. 2048:1,4096:2,8192:4")
        String branches;

        @Option(names = "--heads", paramLabel = "H", converter = io.longnet.attention.bench.BenchCommandLine.Positive.class,
                description = "expected number of heads (default: from q)")
        Integer heads;

        @Option(names = "--causal", description = "causal attention (each position sees only earlier ones)")
        boolean causal;

        @Option(names = "--keep-non-finite", description = "write results that overflowed float32 (infinite or NaN"
                + " o, NaN lse) instead of failing on the first one")
        boolean keepNonFinite;

        @CommandLine.Mixin
        PartitionLengthOption partitioning;

        @CommandLine.Mixin
        BackendOption backend;

        @CommandLine.Mixin
        MasterOption master;

        @Override
        public Integer call() throws Exception {
            List<Branch> parsed = Branch.parseList(branches);
            return inSession("longnet attend", master.url, spark -> {
                AttendJob.run(spark, new AttendJob.Request(qkv, out, parsed, heads, causal, partitioning.length,
                        backend.choice, replace.overwrite, keepNonFinite), System.out);
            });
        }
    }

    @Command(name = "bench", mixinStandardHelpOptions = true, description = "Benchmarks on synthetic data.",
            subcommands = {BenchAttend.class})
    static final class Bench implements Callable<Integer> {

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            return usageError(spec);
        }
    }

    @Command(name = "clean", mixinStandardHelpOptions = true,
            description = "Removes the hidden temporary folders (.OUT.longnet-*) that runs killed before they finished"
                    + " left beside output OUT, and the claim such a run left (.OUT.longnet-claim); a job starting on"
                    + " OUT names the folders in a warning, and --overwrite removes them. Refuses while a run on this"
                    + " machine is writing OUT.")
    static final class Clean implements Callable<Integer> {

        @CommandLine.Parameters(paramLabel = "OUT", description = "an output path (local or URI) of any command")
        String out;

        @Override
        public Integer call() throws Exception {
            List<org.apache.hadoop.fs.Path> removed = io.longnet.storage.AtomicOutput.clean(out, Preflight.hadoopConf());
            System.out.println(removed.isEmpty() ? "nothing to clean beside " + out : "removed " + removed.size()
                    + " temporary folder(s) beside " + out + ": " + removed.stream().map(p -> p.getName()).toList());
            return 0;
        }
    }

    @Command(name = "attend", mixinStandardHelpOptions = true,
            description = "The attend job on synthetic q, k, v (made inside the tasks, output discarded) against"
                    + " the single-process engine: job time / engine time, tokens/s, shuffle read per partition."
                    + " With --synthetic, the job alone at scale (docs/BENCHMARKS.md): q, k, v made where they are"
                    + " used from a counter, per partition a checksum of o and lse and sampled rows verified against"
                    + " float64 (the run fails above 1e-2 with bf16 inputs, 1e-5 with fp32), shuffle blocks and bytes.")
    static final class BenchAttend implements Callable<Integer> {

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Option(names = "--sizes", split = ",", defaultValue = "1048576", paramLabel = "N,...",
                description = "sequence lengths (default: 1048576)")
        List<Long> sizes;

        @CommandLine.Mixin
        SyntheticAttentionOptions attention;

        @CommandLine.Mixin
        PartitionLengthOption partitioning;

        @Option(names = "--master", defaultValue = "local[2]", paramLabel = "URL",
                description = "Spark master (default: local[2])")
        String master;

        @Option(names = "--synthetic", description = "the job alone over counter-generated inputs; --branches may name"
                + " the partition length L and the sequence length N (default: " + BranchTemplate.SCALING
                + ", H=12, d=64)")
        boolean synthetic;

        @Option(names = "--tokens", split = ",", paramLabel = "N,...",
                description = "with --synthetic: sequence lengths (default: 1048576)")
        List<Long> tokens;

        @Option(names = "--precision", paramLabel = "bf16|fp32",
                description = "with --synthetic: inputs bf16 holds exactly, bound 1e-2 (default), or fp32, bound 1e-5"
                        + " (a GPU backend computes in its own precision: -Dlongnet.gpu.precision)")
        String precision;

        @Option(names = "--seed", paramLabel = "S", description = "with --synthetic: the inputs' seed (default: 0)")
        Long seed;

        @Option(names = "--samples", paramLabel = "K", converter = io.longnet.attention.bench.BenchCommandLine.Positive.class,
                description = "with --synthetic: rows per partition verified against float64 (default: 4)")
        Integer samples;

        @Option(names = "--exchange", paramLabel = "auto|direct|gathered",
                description = "with --synthetic: how spanning branches are exchanged; auto gathers segments over "
                        + io.longnet.spark.ExchangeMode.GATHER_FROM + " or more partitions (default: auto)")
        String exchange;

        @Option(names = "--backend", paramLabel = "auto|cpu|gpu",
                description = "with --synthetic: attention kernel (default: auto; without --synthetic the engine runs"
                        + " on the CPU)")
        Backend backend;

        @Override
        public Integer call() throws Exception {
            if (synthetic) {
                return synthetic();
            }
            List<String> syntheticOnly = java.util.stream.Stream.of("--tokens", "--precision", "--seed", "--samples",
                    "--exchange", "--backend").filter(o -> spec.commandLine().getParseResult().hasMatchedOption(o)).toList();
            if (!syntheticOnly.isEmpty()) {
                throw new IllegalArgumentException(String.join(", ", syntheticOnly) + " need --synthetic (add it, or"
                        + " leave them out for the comparison with the engine)");
            }
            DilatedAttentionConfig config = attention.config();
            for (long n : sizes) {
                if (n < 1) {
                    throw new IllegalArgumentException("--sizes takes lengths >= 1 (got " + n + ")");
                }
                PartitionPlan.of(config, n, partitioning.length, PartitionPlan.DEFAULT_TASK_BYTES);
            }
            return inSession("longnet bench attend", master, spark -> {
                AttendBench.run(spark, config, sizes, attention.causal(), partitioning.length, System.out);
            });
        }

        private int synthetic() throws Exception {
            CommandLine.ParseResult parsed = spec.commandLine().getParseResult();
            if (parsed.hasMatchedOption("--sizes")) {
                throw new IllegalArgumentException("--sizes is the comparison with the engine's; with --synthetic give"
                        + " the lengths as --tokens N,...");
            }
            List<Long> lengths = tokens == null ? List.of(1L << 20) : tokens;
            for (long n : lengths) {
                if (n < 1) {
                    throw new IllegalArgumentException("--tokens takes lengths >= 1 (got " + n + ")");
                }
            }
            String p = precision == null ? "bf16" : precision.strip().toLowerCase(java.util.Locale.ROOT);
            if (!p.equals("bf16") && !p.equals("fp32")) {
                throw new IllegalArgumentException("--precision '" + precision + "': expected bf16 or fp32");
            }
            AttendBench.SyntheticRequest request = new AttendBench.SyntheticRequest(
                    new BranchTemplate(parsed.matchedOptionValue("--branches", BranchTemplate.SCALING)),
                    parsed.matchedOptionValue("--heads", 12), parsed.matchedOptionValue("--dim", 64), lengths,
                    attention.causal(), partitioning.length, backend == null ? Backend.AUTO : backend, p.equals("bf16"),
                    seed == null ? 0 : seed, samples == null ? 4 : samples,
                    exchange == null ? io.longnet.spark.ExchangeMode.AUTO : io.longnet.spark.ExchangeMode.parse(exchange));
            try {
                inSession("longnet bench attend", master, spark -> AttendBench.runSynthetic(spark, request, System.out));
            } catch (AttendBench.VerificationFailed e) {
                spec.commandLine().getErr().println(spec.qualifiedName() + ": " + e.getMessage());
                return 1;
            }
            return 0;
        }
    }

    @Command(name = "init-model", mixinStandardHelpOptions = true,
            description = "Writes a new LongNet model with seeded random weights (config.json and"
                    + " model.safetensors), so that the pipeline runs before training exists. A random model's"
                    + " perplexity means nothing.")
    static final class InitModel implements Callable<Integer> {

        @Option(names = "--config", required = true, paramLabel = "CONFIG",
                description = "model config JSON (see docs/MODEL.md), a local path")
        java.nio.file.Path config;

        @CommandLine.Mixin
        ModelDirOption out;

        @Option(names = "--seed", defaultValue = "42", paramLabel = "S", description = "random seed (default: 42)")
        long seed;

        @Option(names = "--overwrite", description = "replace the model files in an existing directory")
        boolean overwrite;

        @Override
        public Integer call() throws Exception {
            io.longnet.storage.AtomicOutput.requireAbsent(out.dir, overwrite);
            io.longnet.model.LongNetConfig c = io.longnet.model.LongNetConfig.read(config);
            io.longnet.model.LongNetModel.initialize(c, seed).save(out.dir);
            System.out.printf(java.util.Locale.ROOT, "wrote %s: %d layers, d_model %d, %d heads, vocab %d, %,d parameters"
                    + " (seed %d; random weights)%n", out.dir, c.layers(), c.dModel(), c.heads(), c.vocabSize(),
                    c.parameterCount(), seed);
            return 0;
        }
    }

    @Command(name = "import", mixinStandardHelpOptions = true,
            description = "Turns a torchscale LongNet decoder checkpoint (its state dict as .safetensors, or the .pt of"
                    + " torch.save, fairseq-style {\"model\": ..., \"cfg\": ...} or a bare state dict) into a model"
                    + " directory that score and encode read: names checked, the tied LM head and xPos buffers verified"
                    + " and dropped, torchscale's head layout (head_offset contiguous_groups) set; a setting this model"
                    + " does not compute (MoE, DeepNorm, relative position bias, multiway, ...) is refused by name.")
    static final class Import implements Callable<Integer> {

        @Option(names = "--checkpoint", required = true, paramLabel = "FILE",
                description = "torchscale checkpoint: a .safetensors state dict or a torch.save .pt file (local)")
        java.nio.file.Path checkpoint;

        @Option(names = "--config", paramLabel = "JSON",
                description = "torchscale DecoderConfig fields as JSON (default: the args stored in the .pt checkpoint)")
        java.nio.file.Path config;

        @CommandLine.Mixin
        ModelDirOption out;

        @CommandLine.Mixin
        OverwriteOption replace;

        @Override
        public Integer call() throws Exception {
            io.longnet.storage.AtomicOutput.requireAbsent(out.dir, replace.overwrite);
            io.longnet.model.TorchscaleImport.Result model = io.longnet.model.TorchscaleImport.read(checkpoint, config);
            io.longnet.storage.AtomicOutput.replaceDirectory(out.dir,
                    dir -> io.longnet.model.LongNetModel.save(dir, model.config(), model.weights()));
            io.longnet.model.LongNetConfig c = model.config();
            System.out.printf(java.util.Locale.ROOT, "wrote %s: %d layers, d_model %d, %d heads, vocab %d, branches %s,"
                    + " xPos %s, %,d parameters (from %s; checked and dropped: %s)%n", out.dir, c.layers(), c.dModel(),
                    c.heads(), c.vocabSize(), c.branchesSpec(), c.xpos() ? "on" : "off", c.parameterCount(),
                    checkpoint, model.dropped().isEmpty() ? "nothing" : String.join(", ", model.dropped()));
            return 0;
        }
    }

    /** {@code --out} of the commands that write a model directory (init-model, import). */
    static final class ModelDirOption {

        @Option(names = "--out", required = true, paramLabel = "DIR",
                description = "model directory to create (local); must not exist unless --overwrite")
        java.nio.file.Path dir;
    }

    /** {@code --master}, as every subcommand that starts Spark on the embedded default takes it. */
    static final class MasterOption {

        @Option(names = "--master", paramLabel = "URL",
                description = "Spark master (default: spark-submit's, else local[*])")
        String url;
    }

    /** {@code --overwrite} of the commands that replace an output only once the new one is complete. */
    static final class OverwriteOption {

        @Option(names = "--overwrite", description = "replace an existing output (once the new one is complete)")
        boolean overwrite;
    }

    /** {@code --backend}, the attention kernel of every command that attends. */
    static final class BackendOption {

        @Option(names = "--backend", defaultValue = "auto", paramLabel = "auto|cpu|gpu",
                description = "attention kernel: auto uses a GPU where Spark assigned one (default: auto)")
        Backend choice;
    }

    /** {@code --partition-length}: the L of the partition plan, as every command that builds a plan takes it. */
    static final class PartitionLengthOption {

        @Option(names = "--partition-length", paramLabel = "L", defaultValue = "0",
                description = "positions per partition; every segment length must divide it or be a multiple of it;"
                        + " longer sequences and training windows run sequence-parallel (default: chosen,"
                        + " about 96 MiB of q, k, v per task)")
        int length;
    }

    /** {@code --tokens}: the token dataset a model reads (score, encode, train). */
    static final class TokensOption {

        @Option(names = "--tokens", required = true, paramLabel = "TOKENS",
                description = "token dataset written by longnet tokenize (path or URI)")
        String path;
    }

    /** Options every job over a token dataset and a model shares (score, encode). */
    static final class ModelJobOptions {

        @CommandLine.Mixin
        TokensOption tokens;

        @Option(names = "--model", required = true, paramLabel = "DIR",
                description = "model directory (config.json, model.safetensors), local to the driver")
        String model;

        @Option(names = "--out", required = true, paramLabel = "OUT",
                description = "output folder of Parquet datasets; must not exist unless --overwrite")
        String out;

        @CommandLine.Mixin
        PartitionLengthOption partitioning;

        @CommandLine.Mixin
        BackendOption backend;

        @Option(names = "--checkpoint-every", defaultValue = "4", paramLabel = "K", converter = io.longnet.attention.bench.BenchCommandLine.NonNegative.class,
                description = "checkpoint long sequences' hidden states every K layers (0: never; default: 4)")
        int checkpointEvery;

        @Option(names = "--checkpoint-dir", paramLabel = "DIR",
                description = "where those checkpoints go (default: a hidden folder beside OUT, removed at the end)")
        String checkpointDir;

        @CommandLine.Mixin
        OverwriteOption replace;

        @CommandLine.Mixin
        MasterOption master;
    }

    @Command(name = "score", mixinStandardHelpOptions = true,
            description = "Scores every sequence of a token dataset under a LongNet model: per sequence its token"
                    + " count, mean negative log-likelihood and perplexity (OUT/sequences), per-token log-probs with"
                    + " --per-token (OUT/log_probs), and a summary line.")
    static final class Score implements Callable<Integer> {

        @CommandLine.Mixin
        ModelJobOptions job;

        @Option(names = "--per-token", description = "also write every position's log-probability")
        boolean perToken;

        @Override
        public Integer call() throws Exception {
            return inSession("longnet score", job.master.url, spark -> {
                ScoreJob.run(spark, new ScoreJob.Request(job.tokens.path, job.model, job.out, perToken,
                        job.partitioning.length, job.backend.choice, job.checkpointEvery, job.checkpointDir,
                        job.replace.overwrite), System.out);
            });
        }
    }

    @Command(name = "tokenize", mixinStandardHelpOptions = true,
            description = "Tokenizes a corpus of text files (plain or .gz; a file, folder or glob; local or hdfs://)"
                    + " into the token block dataset (seq_id, block, tokens) with a document index. Binary files (a"
                    + " NUL byte, or mostly invalid UTF-8, in their first 8 KiB) are skipped with a warning naming"
                    + " them; a document longer than --max-document-bytes, or a truncated or corrupt .gz, fails the"
                    + " job naming the file, and nothing is written.")
    static final class Tokenize implements Callable<Integer> {

        @Option(names = "--corpus", required = true, paramLabel = "IN", description = "text files: file, folder or glob")
        String corpus;

        @Option(names = "--out", required = true, paramLabel = "TOKENS",
                description = "token dataset to write; must not exist unless --overwrite")
        String out;

        @Option(names = "--tokenizer", defaultValue = "byte", paramLabel = "byte|PATH",
                description = "byte (default) or a Hugging Face tokenizer.json (or a folder holding one)")
        String tokenizer;

        @Option(names = "--documents", defaultValue = "file", paramLabel = "file|line",
                description = "one document per file (default) or per line")
        DocumentMode documents;

        @Option(names = "--concat", description = "one sequence of the whole corpus, documents joined by the"
                + " separator token (default: one sequence per document)")
        boolean concat;

        @Option(names = "--block-size", defaultValue = "4096", paramLabel = "B",
                description = "positions per row (default: 4096)")
        int blockSize;

        @Option(names = "--max-document-bytes", defaultValue = "64m", paramLabel = "SIZE",
                description = "refuse a document (a file, or a line with --documents line) longer than this after"
                        + " gunzip, e.g. 512k, 64m, 1g (default: 64m); a task holds about 8 times it while tokenizing")
        String maxDocumentBytes;

        @CommandLine.Mixin
        OverwriteOption replace;

        @CommandLine.Mixin
        MasterOption master;

        @Override
        public Integer call() throws Exception {
            io.longnet.datasets.TokenizeOptions options = io.longnet.datasets.TokenizeOptions.defaults(documents)
                    .withTokenizer(tokenizer).withConcatenate(concat).withBlockSize(blockSize).withOverwrite(replace.overwrite)
                    .withMaxDocumentBytes(io.longnet.datasets.TokenizeOptions.parseBytes(maxDocumentBytes));
            return inSession("longnet tokenize", master.url, spark -> {
                System.out.println(io.longnet.datasets.TokenBlocks.write(spark, corpus, out, options).summary());
            });
        }
    }

    @Command(name = "encode", mixinStandardHelpOptions = true,
            description = "Contextual embeddings of every sequence of a token dataset: final features, or hidden"
                    + " states after --layer K, in the block layout (seq_id, block, hidden), and with --arrow also as"
                    + " Arrow IPC files for pyarrow (OUT/_arrow, which Parquet readers of OUT skip).")
    static final class Encode implements Callable<Integer> {

        @CommandLine.Mixin
        ModelJobOptions job;

        @Option(names = "--layer", paramLabel = "K", description = "hidden states after K layers (0: embeddings);"
                + " default: the final features")
        Integer layer;

        @Option(names = "--arrow", description = "also write Arrow IPC files, one row per position, in OUT/_arrow:"
                + " pyarrow.dataset.dataset(OUT + \"/_arrow\", format=\"arrow\")")
        boolean arrow;

        @Override
        public Integer call() throws Exception {
            return inSession("longnet encode", job.master.url, spark -> {
                EncodeJob.run(spark, new EncodeJob.Request(job.tokens.path, job.model, job.out, layer, arrow,
                        job.partitioning.length, job.backend.choice, job.checkpointEvery, job.checkpointDir,
                        job.replace.overwrite), System.out);
            });
        }
    }

    @Command(name = "train", mixinStandardHelpOptions = true,
            description = "Trains a LongNet language model on a token dataset: exact gradients on Spark (data-parallel"
                    + " over windows, sequence-parallel within a window longer than a partition), AdamW with warm-up"
                    + " and cosine decay; checkpoints in OUT/checkpoints, the model in OUT (for score and encode),"
                    + " OUT/training.json and OUT/log.csv.")
    static final class Train implements Callable<Integer> {

        @CommandLine.Mixin
        TokensOption tokens;

        @Option(names = "--config", paramLabel = "CONFIG", description = "model config JSON of a new model (docs/MODEL.md)")
        String config;

        @Option(names = "--init", paramLabel = "MODEL", description = "start from this model directory's weights instead")
        String init;

        @Option(names = "--out", required = true, paramLabel = "DIR",
                description = "output directory, local to the driver; must not exist unless --resume or --overwrite")
        String out;

        @Option(names = "--steps", defaultValue = "200", paramLabel = "S", description = "optimiser steps (default: 200)")
        long steps;

        @Option(names = "--seq-len", defaultValue = "512", paramLabel = "N",
                description = "tokens per training window (default: 512)")
        int seqLen;

        @Option(names = "--batch", defaultValue = "8", paramLabel = "B", description = "windows per step (default: 8)")
        int batch;

        @Option(names = "--lr", defaultValue = "1e-3", paramLabel = "LR", description = "peak learning rate (default: 1e-3)")
        double learningRate;

        @Option(names = "--warmup", defaultValue = "-1", paramLabel = "STEPS",
                description = "linear warm-up steps (default: min(100, S/10))")
        int warmup;

        @Option(names = "--weight-decay", defaultValue = "0.01", paramLabel = "WD",
                description = "AdamW weight decay of the matrices (default: 0.01)")
        double weightDecay;

        @Option(names = "--clip-norm", defaultValue = "1.0", paramLabel = "C",
                description = "clip the gradient's global norm to C (0: never; default: 1.0)")
        double clipNorm;

        @Option(names = "--seed", defaultValue = "0", description = "seed of the initial weights and the batch order (default: 0)")
        long seed;

        @Option(names = "--validation", defaultValue = "0.1", paramLabel = "FRACTION",
                description = "fraction of windows held out (the last ones) for the validation perplexity (default: 0.1)")
        double validation;

        @Option(names = "--checkpoint-every", defaultValue = "50", paramLabel = "K",
                description = "write a checkpoint every K steps, and at the end (default: 50)")
        int checkpointEvery;

        @CommandLine.Mixin
        PartitionLengthOption partitioning;

        @Option(names = "--resume", description = "continue from the newest checkpoint in OUT/checkpoints")
        boolean resume;

        @Option(names = "--overwrite", description = "start again, replacing an existing OUT")
        boolean overwrite;

        @CommandLine.Mixin
        MasterOption master;

        @Override
        public Integer call() throws Exception {
            return inSession("longnet train", master.url, spark -> TrainJob.run(spark, new TrainJob.Request(tokens.path, config,
                    init, out, steps, seqLen, batch, learningRate, warmup, weightDecay, clipNorm, seed, validation,
                    checkpointEvery, partitioning.length, resume, overwrite), System.out));
        }
    }

    @Command(name = "synth-corpus", mixinStandardHelpOptions = true,
            description = "Writes a seeded text corpus with long-range dependencies (facts defined early in a document"
                    + " and recalled later at any distance), one document per file: the corpus of docs/EXPERIMENTS.md.")
    static final class SynthCorpus implements Callable<Integer> {

        @Option(names = "--out", required = true, paramLabel = "DIR", description = "output folder (local); must not exist")
        java.nio.file.Path out;

        @Option(names = "--documents", defaultValue = "64", paramLabel = "D", description = "documents (default: 64)")
        int documents;

        @Option(names = "--bytes", defaultValue = "16384", paramLabel = "N",
                description = "characters per document, about (default: 16384)")
        int bytes;

        @Option(names = "--seed", defaultValue = "0", description = "seed (default: 0)")
        long seed;

        @Override
        public Integer call() throws Exception {
            io.longnet.datasets.SyntheticCorpus.write(out, documents, bytes, seed);
            System.out.printf(java.util.Locale.ROOT, "wrote %s: %d documents of about %d characters (seed %d)%n", out,
                    documents, bytes, seed);
            return 0;
        }
    }
}
