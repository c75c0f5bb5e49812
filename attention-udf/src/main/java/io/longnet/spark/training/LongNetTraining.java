package io.longnet.spark.training;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.longnet.model.LongNetConfig;
import io.longnet.model.LongNetModel;
import io.longnet.model.WeightInit;
import io.longnet.storage.AtomicOutput;
import io.longnet.training.AdamW;
import io.longnet.training.BatchOrder;
import io.longnet.training.ParameterLayout;
import io.longnet.training.StepLog;
import io.longnet.training.TrainingCheckpoint;
import io.longnet.training.TrainingSettings;
import io.longnet.training.TrainingSummary;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * Trains a LongNet language model on a token dataset, on Spark: what {@code longnet train} and
 * {@link io.longnet.spark.ml.LongNetTrainer} run. Each step takes a batch of windows ({@link BatchOrder}),
 * computes the summed loss and exact gradients on Spark ({@link DistributedGradients}: data-parallel over
 * windows, sequence-parallel within a window longer than a partition), and the driver applies AdamW.
 * Checkpoints go to {@code OUT/checkpoints} every {@code K} steps; a resumed run continues from the newest
 * bit for bit. At the end the float32 model ({@code OUT/config.json}, {@code OUT/model.safetensors},
 * readable by {@code score} and {@code encode} for dilated models), {@code OUT/training.json} and
 * {@code OUT/log.csv} are written.
 *
 * <p>In two steps, so that a caller can check its data against the model before any Spark work:
 * {@link #start} checks the settings and the output directory and finds where the model starts (a new
 * model, existing weights, or the newest checkpoint), reading no token data; {@link #train} then cuts the
 * token blocks into windows and runs the steps.
 *
 * <p>OUT is a local path of the driver: model directories are (see {@link LongNetModel#load}).
 */
public final class LongNetTraining {

    /** Folder of OUT that holds the checkpoints. */
    public static final String CHECKPOINTS = "checkpoints";
    /** File of OUT with each step's figures. */
    public static final String LOG = "log.csv";
    /** File of OUT with the run's settings and results. */
    public static final String REPORT = "training.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * What to train, and where.
     *
     * @param source          names the token data in the run's records (each checkpoint's state, the report):
     *                        a resumed run must name the same
     * @param config          local path of a new model's config JSON, or {@code null}; when resuming, it may
     *                        be given if equal to the checkpoint's (the run's command line, repeated)
     * @param init            local model directory whose weights to start from, or {@code null}
     * @param out             output directory, local to the driver; must not exist unless resumed or overwritten
     * @param training        the run's settings
     * @param partitionLength positions per partition; longer windows train sequence-parallel (0: chosen)
     * @param resume          continue from the newest checkpoint in {@code out/checkpoints}
     * @param overwrite       start again, replacing an existing {@code out}
     */
    public record Settings(String source, String config, String init, String out, TrainingSettings training,
                           int partitionLength, boolean resume, boolean overwrite) {

        public Settings {
            Objects.requireNonNull(source, "source");
            Objects.requireNonNull(out, "out");
            Objects.requireNonNull(training, "training");
        }
    }

    private final Settings settings;
    private final Path dir;
    private final LongNetConfig config;
    private final ParameterLayout layout;
    private final double[] params;
    private final AdamW optimizer;
    private final long t0;
    private boolean trained;

    private LongNetTraining(Settings settings, Path dir, LongNetConfig config, double[] params, AdamW optimizer,
                            long t0) {
        this.settings = settings;
        this.dir = dir;
        this.config = config;
        this.layout = ParameterLayout.of(config);
        this.params = params;
        this.optimizer = optimizer;
        this.t0 = t0;
    }

    /**
     * Checks the output directory against {@code resume} and {@code overwrite}, and loads the model's start:
     * the newest checkpoint when resuming (whose run must have had the same settings), else the weights of
     * {@code init}, else a new model of {@code config} initialised with the seed. Writes nothing.
     */
    public static LongNetTraining start(Settings s) throws IOException {
        long t0 = System.nanoTime();
        Path dir = Path.of(s.out());
        TrainingSettings t = s.training();
        Optional<TrainingCheckpoint> resumeFrom = Optional.empty();
        if (s.resume()) {
            resumeFrom = TrainingCheckpoint.latest(dir.resolve(CHECKPOINTS));
            if (resumeFrom.isEmpty()) {
                throw new IllegalArgumentException("--resume: no checkpoint in " + dir.resolve(CHECKPOINTS));
            }
            if (s.init() != null) {
                throw new IllegalArgumentException("--resume takes the weights from the checkpoint: drop --init");
            }
            if (s.config() != null) {
                // The command line that started the run, repeated, resumes it: its config must be the checkpoint's.
                List<String> differ = LongNetConfig.read(Path.of(s.config()))
                        .differences(resumeFrom.get().config(), "checkpoint");
                if (!differ.isEmpty()) {
                    throw new IllegalArgumentException("--resume continues the checkpoint's model, but --config "
                            + s.config() + " differs from it: " + String.join(", ", differ) + "; drop --config to"
                            + " resume, or start a new run (--overwrite, or another --out)");
                }
            }
            t.checkSameRun(resumeFrom.get().stateJson(), s.source());
        } else if (Files.exists(dir) && !s.overwrite()) {
            throw new IllegalArgumentException("output " + dir + " exists: pass --resume to continue its training,"
                    + " --overwrite to start again, or choose another path");
        }
        LongNetConfig config;
        double[] params;
        if (resumeFrom.isPresent()) {
            config = resumeFrom.get().config();
            params = resumeFrom.get().params();
        } else if (s.init() != null) {
            if (s.config() != null) {
                throw new IllegalArgumentException("give --config (a new model) or --init (existing weights), not both");
            }
            LongNetModel start = LongNetModel.load(Path.of(s.init()));
            config = start.config();
            params = ParameterLayout.of(config).flatten(start.weights());
        } else if (s.config() != null) {
            config = LongNetConfig.read(Path.of(s.config()));
            params = ParameterLayout.of(config).flatten(WeightInit.initialize(config, t.seed()));
        } else {
            throw new IllegalArgumentException("give --config CONFIG (a new model) or --init MODEL (weights to"
                    + " continue from)");
        }
        AdamW.Settings optimizerSettings = t.optimizer();
        AdamW optimizer = resumeFrom.isPresent() ? resumeFrom.get().optimizer(optimizerSettings)
                : new AdamW(optimizerSettings, ParameterLayout.of(config));
        return new LongNetTraining(s, dir, config, params, optimizer, t0);
    }

    /** {@link #start} and {@link #train} in one call. */
    public static TrainingSummary train(Settings s, Dataset<Row> blocks, int blockSize, PrintStream out)
            throws IOException {
        return start(s).train(blocks, blockSize, out);
    }

    /** The config of the model being trained. */
    public LongNetConfig config() {
        return config;
    }

    /**
     * Trains on the token blocks {@code blocks} (columns {@code seq_id long, block long, tokens array<int>}
     * in this order, blocks of {@code blockSize} positions, 0: the longest block of the data; their layout
     * and token ids are checked against the model first), printing a line per step to {@code out}, and
     * writes the model, the report and the log to the output directory. Once per {@link #start}.
     */
    public TrainingSummary train(Dataset<Row> blocks, int blockSize, PrintStream out) throws IOException {
        if (trained) {
            throw new IllegalStateException("this run has trained already: start another");
        }
        trained = true;
        TrainingSettings t = settings.training();
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(blocks.sparkSession().sparkContext());
        // Each task computes on spark.task.cpus cores (TaskCpus): as many tasks as run at once.
        int taskCpus = Math.max(1, jsc.getConf().getInt("spark.task.cpus", 1));
        int tasks = Math.max(1, jsc.defaultParallelism() / taskCpus);
        DistributedGradients gradients = new DistributedGradients(config, t.seqLen(), settings.partitionLength(), tasks);
        jsc.setJobDescription("longnet train " + settings.source());
        try (TrainingWindows windows = new TrainingWindows(jsc, blocks, blockSize, config.vocabSize(), t.seqLen(),
                t.validationFraction())) {
            BatchOrder order = new BatchOrder(windows.split().trainCount(), t.batch(), t.seed());
            out.printf(Locale.ROOT, "train: %,d parameters; %,d tokens -> %,d training and %,d validation windows of %d;"
                            + " batch %d, %d steps (%.1f epochs); %s%n", layout.size(), windows.split().tokens(),
                    windows.split().trainCount(), windows.split().validation(), t.seqLen(), t.batch(), t.steps(),
                    (double) t.steps() / order.batchesPerEpoch(), (gradients.sequenceParallel()
                            ? "each window over " + gradients.plan().describe() : "data-parallel over " + tasks + " tasks")
                            + ", each task on " + taskCpus + " thread(s) (spark.task.cpus)");
            if (!settings.resume()) {
                AtomicOutput.deleteRecursively(dir);
                Files.createDirectories(dir);
            }
            List<StepLog> log = readLog(dir, optimizer.steps());
            long tokensTrained = 0;
            double trainSeconds = 0;
            for (long step = optimizer.steps(); step < t.steps(); step++) {
                long s0 = System.nanoTime();
                Broadcast<double[]> current = jsc.broadcast(params);
                jsc.setJobDescription("longnet train step " + (step + 1) + "/" + t.steps());
                GradientSum sum = gradients.compute(windows.rdd(), order.ids(step), current, true);
                current.destroy();
                double lr = optimizer.learningRate(step);
                double norm = optimizer.step(params, sum.gradient(), 1.0 / sum.predictions());
                double seconds = (System.nanoTime() - s0) / 1e9;
                tokensTrained += (long) t.batch() * t.seqLen();
                trainSeconds += seconds;
                StepLog entry = new StepLog(step + 1, sum.meanLoss(), lr, norm, t.batch() * t.seqLen() / seconds);
                log.add(entry);
                out.printf(Locale.ROOT, "step %d/%d: loss %.4f, lr %.2e, grad norm %.3f, %.0f tokens/s%n", entry.step(),
                        t.steps(), entry.loss(), lr, norm, entry.tokensPerSecond());
                if ((step + 1) % t.checkpointEvery() == 0 || step + 1 == t.steps()) {
                    TrainingCheckpoint.write(dir.resolve(CHECKPOINTS), step + 1, config, params, optimizer,
                            t.runState(settings.source()).toString());
                    writeLog(dir, log);
                }
            }
            GradientSum validation = null;
            List<Long> validationIds = windows.split().validationIds();
            if (!validationIds.isEmpty()) {
                Broadcast<double[]> trainedParams = jsc.broadcast(params);
                jsc.setJobDescription("longnet train validation");
                validation = gradients.compute(windows.rdd(), validationIds, trainedParams, false);
                trainedParams.destroy();
            }
            LongNetModel.save(dir, config, layout.toWeights(params));
            double seconds = (System.nanoTime() - t0) / 1e9;
            TrainingSummary summary = new TrainingSummary(t.steps(), log,
                    validation == null ? Double.NaN : validation.meanLoss(), validationIds.size(), seconds,
                    trainSeconds > 0 ? tokensTrained / trainSeconds : Double.NaN);
            writeReport(summary);
            out.printf(Locale.ROOT, "done: %d steps in %.1f s (%.0f training tokens/s); validation mean NLL %.4f nats/token,"
                            + " perplexity %.3f over %d windows; wrote %s%n", summary.steps(), seconds,
                    summary.tokensPerSecond(), summary.validationLoss(), summary.validationPerplexity(),
                    summary.validationWindows(), dir);
            return summary;
        }
    }

    private static List<StepLog> readLog(Path dir, long steps) throws IOException {
        List<StepLog> log = new ArrayList<>();
        Path file = dir.resolve(LOG);
        if (steps == 0 || !Files.exists(file)) {
            return log;
        }
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            String[] f = line.split(",");
            if (f.length == 5 && !f[0].equals("step") && Long.parseLong(f[0]) <= steps) {
                log.add(new StepLog(Long.parseLong(f[0]), Double.parseDouble(f[1]), Double.parseDouble(f[2]),
                        Double.parseDouble(f[3]), Double.parseDouble(f[4])));
            }
        }
        return log;
    }

    private static void writeLog(Path dir, List<StepLog> log) throws IOException {
        StringBuilder csv = new StringBuilder("step,loss,learning_rate,grad_norm,tokens_per_second\n");
        for (StepLog s : log) {
            csv.append(String.format(Locale.ROOT, "%d,%.17g,%.17g,%.17g,%.3f%n", s.step(), s.loss(), s.learningRate(),
                    s.gradientNorm(), s.tokensPerSecond()));
        }
        AtomicOutput.writeFile(dir.resolve(LOG), csv.toString().getBytes(StandardCharsets.UTF_8));
    }

    private void writeReport(TrainingSummary s) throws IOException {
        ObjectNode report = JSON.createObjectNode();
        report.set("run", settings.training().runState(settings.source()));
        report.put("parameters", layout.size());
        report.put("attention", config.attentionPattern().jsonName());
        report.put("steps", s.steps());
        report.put("final_train_loss", s.log().isEmpty() ? Double.NaN : s.log().get(s.log().size() - 1).loss());
        report.put("validation_windows", s.validationWindows());
        report.put("validation_loss", s.validationLoss());
        report.put("validation_perplexity", s.validationPerplexity());
        report.put("train_tokens_per_second", s.tokensPerSecond());
        report.put("seconds", s.seconds());
        AtomicOutput.writeFile(dir.resolve(REPORT), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(report));
    }
}
