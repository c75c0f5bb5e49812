package io.longnet.jobs;

import io.longnet.attention.Branch;
import io.longnet.attention.DilatedAttentionConfig;
import io.longnet.datasets.TokenManifest;
import io.longnet.model.LongNetConfig;
import io.longnet.model.LongNetModel;
import io.longnet.spark.PartitionPlan;
import io.longnet.storage.AtomicOutput;
import io.longnet.storage.HadoopFiles;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.SparkConf;
import org.apache.spark.deploy.SparkHadoopUtil;
import org.apache.spark.scheduler.ExternalClusterManager;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * What the CLI checks of a command line before Spark starts (which takes seconds, and on a bad master URL
 * or an unreachable master ends in pages of log): the master URL, that the inputs named by {@code --qkv},
 * {@code --tokens}, {@code --model}, {@code --config}, {@code --init} and {@code --checkpoint} exist, the output's location,
 * the partition length against the branches that will use it, and the driver's heap. Options are found by
 * name, so every command that has one gets its check. A failed check is an {@link IllegalArgumentException}
 * (bad input: one line, exit code 2). Last, the output is claimed for this run, and the hidden temporary
 * folders of earlier runs beside it are named in a warning, or removed with {@code --overwrite}.
 */
final class Preflight {

    /**
     * Below this, a partition is a Spark task that spends its time being scheduled, not computing (L = 1 ran at
     * 3 tokens/s): {@code --partition-length} must be 0 (chosen) or at least this.
     */
    static final int MIN_PARTITION_LENGTH = 64;
    /** Spark's smallest driver heap: 1.5 times the 300 MiB it reserves (its UnifiedMemoryManager). */
    static final long SPARK_MIN_HEAP = 450L << 20;
    /** How long a {@code spark://} master may take to accept a connection before it is called unreachable. */
    static final int MASTER_CONNECT_MILLIS = 10_000;

    private static final Pattern LOCAL = Pattern.compile("local(\\[(\\*|[1-9][0-9]*)(,[1-9][0-9]*)?])?");
    private static final Pattern LOCAL_CLUSTER = Pattern.compile("local-cluster\\[ *[1-9][0-9]* *, *[1-9][0-9]* *,"
            + " *[1-9][0-9]* *]");
    private static final Pattern STANDALONE = Pattern.compile("spark://[^/:,\\s]+:[0-9]{1,5}(,[^/:,\\s]+:[0-9]{1,5})*");

    private Preflight() {
    }

    /**
     * Checks the command line of {@code spec} (a parsed subcommand), claims its output
     * ({@link AtomicOutput#claim}: a second run on it fails here, at once), and warns on {@code err} about
     * temporary folders beside it, or removes them with {@code --overwrite}. Returns the claim, for the
     * caller to give up when the command ends; null for a command without {@code --out}.
     */
    static AtomicOutput.Claim check(CommandSpec spec, PrintStream err) throws IOException {
        String master = value(spec, "--master");
        if (master != null) {
            master(master);
        }
        // bench attend --synthetic: --tokens are lengths and --branches may name L and N (AttendBench checks both).
        boolean synthetic = flag(spec, "--synthetic");
        String branches = value(spec, "--branches");
        if (branches != null && !synthetic) {
            DilatedAttentionConfig.of(Branch.parseList(branches), 1, 1, false); // a flag's own error comes first
        }
        Configuration conf = hadoopConf();
        String out = value(spec, "--out");
        boolean overwrite = flag(spec, "--overwrite");
        // train says itself what to do about an existing output (--resume or --overwrite).
        boolean mayExist = overwrite || spec.findOption("--resume") != null;
        for (String option : List.of("--qkv", "--tokens", "--config", "--init", "--model", "--checkpoint")) {
            String in = value(spec, option);
            if (in != null && !(option.equals("--tokens") && tokensAreLengths(spec))) {
                input(option, in, conf);
            }
        }
        if (out != null) {
            output(out, mayExist, conf);
        }
        if (!synthetic) {
            partitionLength(spec, conf);
        }
        if (spec.findOption("--master") != null) {
            heap(Runtime.getRuntime().maxMemory());
            if (master != null && master.startsWith("spark://")) {
                reachable(master, MASTER_CONNECT_MILLIS);
            }
        }
        if (out == null) {
            return null;
        }
        // Claimed before the leftovers are named or removed: with the claim held, no run here is writing them.
        AtomicOutput.Claim claim = AtomicOutput.claim(out, conf, overwrite);
        try {
            leftovers(spec.qualifiedName(), out, overwrite, conf, err);
        } catch (IOException | RuntimeException e) {
            claim.close();
            throw e;
        }
        return claim;
    }

    /** The Hadoop configuration a job will have: Hadoop's files and spark-submit's {@code spark.hadoop.*}. */
    static Configuration hadoopConf() {
        return SparkHadoopUtil.get().newConfiguration(new SparkConf());
    }

    // ---- the master ---------------------------------------------------------------------------------------

    /**
     * Refuses a {@code --master} that is no Spark master URL, or one of YARN or Kubernetes where this Spark has
     * no cluster manager for it (the embedded Spark of bin/longnet has neither).
     */
    static void master(String url) {
        if (LOCAL.matcher(url).matches() || LOCAL_CLUSTER.matcher(url).matches() || STANDALONE.matcher(url).matches()) {
            return;
        }
        if (url.equals("yarn") || (url.startsWith("k8s://") && url.length() > "k8s://".length())) {
            clusterManager(url);
            return;
        }
        throw new IllegalArgumentException("--master '" + url + "' is not a Spark master URL: expected local,"
                + " local[N], local[*], local-cluster[WORKERS,CORES,MB], spark://HOST:PORT, yarn or k8s://URL");
    }

    /** Refuses a master URL that no cluster manager on the classpath takes, as Spark finds them. */
    private static void clusterManager(String url) {
        try {
            for (ExternalClusterManager manager : ServiceLoader.load(ExternalClusterManager.class,
                    Thread.currentThread().getContextClassLoader())) {
                if (manager.canCreate(url)) {
                    return;
                }
            }
        } catch (ServiceConfigurationError e) {
            return; // a manager that cannot be loaded: Spark will say which
        }
        throw new IllegalArgumentException("--master " + url + ": this Spark has no " + (url.equals("yarn") ? "YARN"
                : "Kubernetes") + " support: run the jar with spark-submit of a Spark distribution that has it");
    }

    /**
     * Refuses a {@code spark://} master none of whose hosts accepts a connection within {@code millis} (Spark
     * itself retries for a minute and logs every attempt).
     */
    static void reachable(String url, int millis) {
        List<String> failures = new ArrayList<>();
        for (String hostPort : url.substring("spark://".length()).split(",")) {
            int colon = hostPort.lastIndexOf(':');
            String host = hostPort.substring(0, colon);
            int port = Integer.parseInt(hostPort.substring(colon + 1));
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress(host, port), millis);
                return;
            } catch (UnknownHostException e) {
                failures.add(hostPort + ": unknown host");
            } catch (java.net.SocketTimeoutException e) {
                failures.add(hostPort + ": no answer within " + millis / 1000 + " s");
            } catch (IOException | IllegalArgumentException e) {
                failures.add(hostPort + ": " + (e instanceof java.nio.channels.UnresolvedAddressException
                        || e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()));
            }
        }
        throw new IllegalArgumentException("Spark master " + url + " is unreachable (" + String.join("; ", failures)
                + "): is it running, and are the host and port right?");
    }

    /**
     * How long a {@code spark://} master that accepted the connection may take to register the application:
     * Spark waits 3 x 20 s, logging each attempt, for a port that is no master's.
     */
    static final long MASTER_REGISTRATION_MILLIS = 20_000;

    /**
     * The session {@code start} makes, if it does within {@code millis}; else a refusal naming {@code master}.
     * The start goes on in a daemon thread, which the CLI's exit ends.
     */
    static SparkSession startedWithin(Callable<SparkSession> start, long millis, String master) throws Exception {
        FutureTask<SparkSession> task = new FutureTask<>(start);
        Thread thread = new Thread(task, "longnet session start");
        thread.setDaemon(true);
        thread.start();
        try {
            return task.get(millis, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new IllegalArgumentException("Spark master " + master + " accepts connections but did not take"
                    + " this application within " + millis / 1000 + " s: is it a Spark master's port (7077 by"
                    + " default), and is the master running?");
        } catch (ExecutionException e) {
            throw e.getCause() instanceof Exception cause ? cause : new IllegalStateException(e.getCause());
        }
    }

    /** Refuses a heap smaller than Spark's minimum, saying how to give the driver more. */
    static void heap(long maxMemory) {
        if (maxMemory < SPARK_MIN_HEAP && System.getProperty("spark.testing.memory") == null) {
            throw new IllegalArgumentException("the driver's heap is " + (maxMemory >> 20) + " MiB, below the "
                    + (SPARK_MIN_HEAP >> 20) + " MiB Spark needs: " + Main.MEMORY_ADVICE);
        }
    }

    // ---- inputs and the output ------------------------------------------------------------------------------

    /** Options naming a file, and options naming a folder; {@code --qkv} may be either. */
    private static final Set<String> FILES = Set.of("--config", "--checkpoint");
    private static final Set<String> FOLDERS = Set.of("--model", "--init", "--tokens");

    /** Refuses an input path that does not exist, or is a folder where a file is wanted or the other way. */
    static void input(String option, String in, Configuration conf) throws IOException {
        Path path = new Path(in);
        FileSystem fs = path.getFileSystem(conf);
        if (!fs.exists(path)) {
            throw new IllegalArgumentException(option + " " + in + ": no such file or directory");
        }
        boolean folder = fs.getFileStatus(path).isDirectory();
        if (folder && FILES.contains(option)) {
            throw new IllegalArgumentException(option + " " + in + " is a folder, not a file");
        }
        if (!folder && FOLDERS.contains(option)) {
            throw new IllegalArgumentException(option + " " + in + " is a file, not a folder");
        }
    }

    /**
     * Refuses an output that exists (unless it may), lies under a file, or whose folder cannot be written
     * (found by creating and removing a hidden file there: permissions alone do not say it for every file
     * system or for root).
     */
    static void output(String out, boolean mayExist, Configuration conf) throws IOException {
        AtomicOutput.requireAbsent(out, conf, mayExist);
        Path target = new Path(out);
        FileSystem fs = HadoopFiles.writable(target, conf);
        Path folder = target.getParent();
        while (folder != null && !fs.exists(folder)) {
            folder = folder.getParent();
        }
        if (folder == null) {
            return;
        }
        if (!fs.getFileStatus(folder).isDirectory()) {
            throw new IllegalArgumentException("output " + out + ": " + folder + " is a file, not a folder: choose"
                    + " another path");
        }
        Path probe = new Path(folder, "." + target.getName() + ".longnet-probe-" + UUID.randomUUID());
        try {
            fs.create(probe, false).close();
        } catch (IOException e) {
            // The reason without the probe's name, which means nothing to the user: "(Permission denied)".
            String reason = Main.firstLine(e).replace(probe.toUri().getPath(), "").replace(probe.toString(), "").strip();
            if (reason.startsWith("(") && reason.endsWith(")")) {
                reason = reason.substring(1, reason.length() - 1);
            }
            throw new IllegalArgumentException("output " + out + ": cannot write in " + folder + " ("
                    + (reason.isEmpty() ? e.getClass().getSimpleName() : reason)
                    + "): choose another path or fix its permissions");
        } finally {
            fs.delete(probe, false);
        }
    }

    /** Names the temporary folders of earlier runs beside {@code out}, or removes them with {@code --overwrite}. */
    static void leftovers(String command, String out, boolean overwrite, Configuration conf, PrintStream err)
            throws IOException {
        List<Path> found = overwrite ? AtomicOutput.removeSiblings(out, conf) : AtomicOutput.siblings(out, conf);
        if (found.isEmpty()) {
            return;
        }
        List<String> names = found.stream().map(Path::getName).toList();
        err.println(command + ": " + (overwrite
                ? "removed " + found.size() + " temporary folder(s) of earlier runs beside " + out + ": " + names
                : "warning: " + found.size() + " temporary folder(s) beside " + out + " from runs that did not finish"
                        + " (or are running now): " + names + "; remove them with: longnet clean " + out));
    }

    // ---- the partition length ------------------------------------------------------------------------------

    /**
     * Refuses a {@code --partition-length} below {@link #MIN_PARTITION_LENGTH} or not fitting the branches
     * that will use it: {@code --branches} (attend, bench), or the model's config (score, encode: with the
     * token dataset's block size; train: --config or --init).
     */
    static void partitionLength(CommandSpec spec, Configuration conf) throws IOException {
        OptionSpec option = spec.findOption("--partition-length");
        int length = option == null ? 0 : option.<Integer>getValue();
        if (length == 0) {
            return;
        }
        DilatedAttentionConfig attention = null;
        int blockSize = 1;
        String branches = value(spec, "--branches");
        String model = value(spec, "--model") != null ? value(spec, "--model") : value(spec, "--init");
        if (branches != null) {
            attention = DilatedAttentionConfig.of(Branch.parseList(branches), 1, 1, false);
        } else if (model != null || value(spec, "--config") != null) {
            java.nio.file.Path file = model != null ? java.nio.file.Path.of(model, LongNetModel.CONFIG_FILE)
                    : java.nio.file.Path.of(value(spec, "--config"));
            attention = LongNetConfig.read(file).attentionConfig();
        }
        if (value(spec, "--tokens") != null && !tokensAreLengths(spec)) {
            blockSize = TokenManifest.read(value(spec, "--tokens"), conf).blockSize();
        }
        if (length < 0 || length < MIN_PARTITION_LENGTH) {
            Integer smallest = attention == null ? null
                    : PartitionPlan.smallestValid(attention, MIN_PARTITION_LENGTH, blockSize);
            throw new IllegalArgumentException("--partition-length " + length + " is too small: each partition is a"
                    + " Spark task, and below " + MIN_PARTITION_LENGTH + " positions a task costs more than it"
                    + " computes; the smallest sensible value " + (smallest == null ? "is " + MIN_PARTITION_LENGTH
                    : "here is " + smallest) + " (or leave it out to have it chosen)");
        }
        if (attention != null) {
            PartitionPlan.of(attention, 1, length, PartitionPlan.DEFAULT_TASK_BYTES, blockSize);
        }
    }

    // ---- options by name ------------------------------------------------------------------------------------

    /** The value of option {@code name} as a string; null when the command has no such option or it is unset. */
    static String value(CommandSpec spec, String name) {
        OptionSpec option = spec.findOption(name);
        Object value = option == null ? null : option.getValue();
        return value == null ? null : value.toString();
    }

    /** Whether {@code --tokens} are sequence lengths (bench attend), not a token dataset. */
    private static boolean tokensAreLengths(CommandSpec spec) {
        return spec.findOption("--synthetic") != null;
    }

    private static boolean flag(CommandSpec spec, String name) {
        OptionSpec option = spec.findOption(name);
        return option != null && Boolean.TRUE.equals(option.getValue());
    }
}
