package io.longnet.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.longnet.datasets.TokenBlocks;
import io.longnet.datasets.TokenManifest;
import io.longnet.model.LongNetConfig;
import io.longnet.model.LongNetModel;
import io.longnet.model.WeightInit;
import io.longnet.spark.training.DistributedGradients;
import io.longnet.spark.training.GradientSum;
import io.longnet.training.AdamW;
import io.longnet.training.ParameterLayout;
import io.longnet.training.TrainingCheckpoint;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;

/**
 * {@code longnet train}: trains a LongNet language model on a token dataset (issue 7). Each step takes a
 * batch of windows ({@link BatchOrder}), computes the summed loss and exact gradients on Spark
 * ({@link DistributedGradients}: data-parallel over windows, sequence-parallel within a window longer
 * than a partition), and the driver applies AdamW. Checkpoints go to {@code OUT/checkpoints} every
 * {@code K} steps; {@code --resume} continues from the newest bit for bit. At the end the float32 model
 * ({@code OUT/config.json}, {@code OUT/model.safetensors}, readable by {@code score} and {@code encode} for
 * dilated models),
 * {@code OUT/training.json} and {@code OUT/log.csv} are written.
 *
 * <p>OUT is a local path of the driver: model directories are (see {@link LongNetModel#load}).
 */
final class TrainJob {

    static final String CHECKPOINTS = "checkpoints";
    static final String LOG = "log.csv";
    static final String REPORT = "training.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What to train, as the CLI gives it. {@code config} or {@code init} names the model's start. */
    record Request(String tokens, String config, String init, String out, long steps, int seqLen, int batch,
                   double learningRate, int warmupSteps, double weightDecay, double clipNorm, long seed,
                   double validationFraction, int checkpointEvery, int partitionLength, boolean resume,
                   boolean overwrite) {
    }

    /** One step's figures. */
    record StepLog(long step, double loss, double learningRate, double gradientNorm, double tokensPerSecond) {
    }

    record Summary(long steps, List<StepLog> log, double validationLoss, long validationWindows, double seconds,
                   double tokensPerSecond) {
        double validationPerplexity() {
            return Math.exp(validationLoss);
        }
    }

    private TrainJob() {
    }

    static Summary run(SparkSession spark, Request r, PrintStream out) throws IOException {
        long t0 = System.nanoTime();
        Path dir = Path.of(r.out());
        if (r.steps() < 1) {
            throw new IllegalArgumentException("--steps must be >= 1 (got " + r.steps() + ")");
        }
        if (r.validationFraction() < 0 || r.validationFraction() >= 1) {
            throw new IllegalArgumentException("--validation must be in [0, 1) (got " + r.validationFraction() + ")");
        }
        if (r.checkpointEvery() < 1) {
            throw new IllegalArgumentException("--checkpoint-every must be >= 1 (got " + r.checkpointEvery() + ")");
        }
        Optional<TrainingCheckpoint> resumeFrom = Optional.empty();
        if (r.resume()) {
            resumeFrom = TrainingCheckpoint.latest(dir.resolve(CHECKPOINTS));
            if (resumeFrom.isEmpty()) {
                throw new IllegalArgumentException("--resume: no checkpoint in " + dir.resolve(CHECKPOINTS));
            }
            checkSameRun(resumeFrom.get(), r);
        } else if (Files.exists(dir) && !r.overwrite()) {
            throw new IllegalArgumentException("output " + dir + " exists: pass --resume to continue its training,"
                    + " --overwrite to start again, or choose another path");
        }
        LongNetConfig config;
        double[] params;
        if (resumeFrom.isPresent()) {
            config = resumeFrom.get().config();
            params = resumeFrom.get().params();
        } else if (r.init() != null) {
            if (r.config() != null) {
                throw new IllegalArgumentException("give --config (a new model) or --init (existing weights), not both");
            }
            LongNetModel start = LongNetModel.load(Path.of(r.init()));
            config = start.config();
            params = ParameterLayout.of(config).flatten(start.weights());
        } else if (r.config() != null) {
            config = LongNetConfig.read(Path.of(r.config()));
            params = ParameterLayout.of(config).flatten(WeightInit.initialize(config, r.seed()));
        } else {
            throw new IllegalArgumentException("give --config CONFIG (a new model) or --init MODEL (weights to"
                    + " continue from)");
        }
        ParameterLayout layout = ParameterLayout.of(config);
        // The optimiser's defaults, with what the command line sets.
        AdamW.Settings usual = AdamW.Settings.defaults((int) r.steps());
        AdamW.Settings settings = new AdamW.Settings(r.learningRate(), usual.beta1(), usual.beta2(), usual.epsilon(),
                r.weightDecay(), r.warmupSteps() >= 0 ? r.warmupSteps() : usual.warmupSteps(), usual.totalSteps(),
                usual.minLearningRateRatio(), r.clipNorm());
        AdamW optimizer = resumeFrom.isPresent() ? resumeFrom.get().optimizer(settings) : new AdamW(settings, layout);
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        TokenManifest manifest = TokenManifest.read(r.tokens(), spark.sparkContext().hadoopConfiguration());
        if (manifest.vocabSize() > config.vocabSize()) {
            throw new IllegalArgumentException("tokens of " + r.tokens() + " come from a vocabulary of "
                    + manifest.vocabSize() + " (" + manifest.tokenizer() + "), the model's has " + config.vocabSize());
        }
        int tasks = Math.max(1, jsc.defaultParallelism());
        DistributedGradients gradients = new DistributedGradients(config, r.seqLen(), r.partitionLength(), tasks);
        jsc.setJobDescription("longnet train " + r.tokens());
        try (TrainingWindows windows = new TrainingWindows(jsc, TokenBlocks.read(spark, r.tokens()),
                manifest.blockSize(), config.vocabSize(), r.seqLen(), r.validationFraction())) {
            BatchOrder order = new BatchOrder(windows.trainCount(), r.batch(), r.seed());
            out.printf(Locale.ROOT, "train: %,d parameters; %,d tokens -> %,d training and %,d validation windows of %d;"
                            + " batch %d, %d steps (%.1f epochs); %s%n", layout.size(), windows.tokens(),
                    windows.trainCount(), windows.validationIds().size(), r.seqLen(), r.batch(), r.steps(),
                    (double) r.steps() / order.batchesPerEpoch(), gradients.sequenceParallel()
                            ? "each window over " + gradients.plan().describe() : "data-parallel over " + tasks + " tasks");
            if (!r.resume()) {
                deleteRecursively(dir);
                Files.createDirectories(dir);
            }
            List<StepLog> log = readLog(dir, optimizer.steps());
            long tokensTrained = 0;
            double trainSeconds = 0;
            for (long step = optimizer.steps(); step < r.steps(); step++) {
                long s0 = System.nanoTime();
                Broadcast<double[]> current = jsc.broadcast(params);
                jsc.setJobDescription("longnet train step " + (step + 1) + "/" + r.steps());
                GradientSum sum = gradients.compute(windows.rdd(), order.ids(step), current, true);
                current.destroy();
                double lr = optimizer.learningRate(step);
                double norm = optimizer.step(params, sum.gradient(), 1.0 / sum.predictions());
                double seconds = (System.nanoTime() - s0) / 1e9;
                tokensTrained += (long) r.batch() * r.seqLen();
                trainSeconds += seconds;
                StepLog entry = new StepLog(step + 1, sum.meanLoss(), lr, norm, r.batch() * r.seqLen() / seconds);
                log.add(entry);
                out.printf(Locale.ROOT, "step %d/%d: loss %.4f, lr %.2e, grad norm %.3f, %.0f tokens/s%n", entry.step(),
                        r.steps(), entry.loss(), lr, norm, entry.tokensPerSecond());
                if ((step + 1) % r.checkpointEvery() == 0 || step + 1 == r.steps()) {
                    TrainingCheckpoint.write(dir.resolve(CHECKPOINTS), step + 1, config, params, optimizer,
                            runState(r).toString());
                    writeLog(dir, log);
                }
            }
            GradientSum validation = null;
            List<Long> validationIds = windows.validationIds();
            if (!validationIds.isEmpty()) {
                Broadcast<double[]> trained = jsc.broadcast(params);
                jsc.setJobDescription("longnet train validation");
                validation = gradients.compute(windows.rdd(), validationIds, trained, false);
                trained.destroy();
            }
            LongNetModel.save(dir, config, layout.toWeights(params));
            double seconds = (System.nanoTime() - t0) / 1e9;
            Summary summary = new Summary(r.steps(), log, validation == null ? Double.NaN : validation.meanLoss(),
                    validationIds.size(), seconds, trainSeconds > 0 ? tokensTrained / trainSeconds : Double.NaN);
            writeReport(dir, r, config, layout, summary);
            out.printf(Locale.ROOT, "done: %d steps in %.1f s (%.0f training tokens/s); validation mean NLL %.4f nats/token,"
                            + " perplexity %.3f over %d windows; wrote %s%n", summary.steps(), seconds,
                    summary.tokensPerSecond(), summary.validationLoss(), summary.validationPerplexity(),
                    summary.validationWindows(), dir);
            return summary;
        }
    }

    /** The settings a resumed run must share with the run that wrote its checkpoint. */
    private static ObjectNode runState(Request r) {
        ObjectNode state = JSON.createObjectNode();
        state.put("tokens", r.tokens());
        state.put("steps", r.steps());
        state.put("seq_len", r.seqLen());
        state.put("batch", r.batch());
        state.put("seed", r.seed());
        state.put("validation_fraction", r.validationFraction());
        state.put("learning_rate", r.learningRate());
        state.put("warmup_steps", r.warmupSteps());
        state.put("weight_decay", r.weightDecay());
        state.put("clip_norm", r.clipNorm());
        return state;
    }

    private static void checkSameRun(TrainingCheckpoint checkpoint, Request r) throws IOException {
        JsonNode saved = JSON.readTree(checkpoint.stateJson());
        ObjectNode now = runState(r);
        List<String> differ = new ArrayList<>();
        now.fieldNames().forEachRemaining(name -> {
            // As text: JSON reads 6 back as an int node, where a long node was written.
            JsonNode was = saved.get(name);
            if (was == null || !now.get(name).asText().equals(was.asText())) {
                differ.add("--" + name.replace('_', '-') + " " + now.get(name) + " (checkpoint: " + saved.get(name) + ")");
            }
        });
        if (r.config() != null || r.init() != null) {
            throw new IllegalArgumentException("--resume takes the model from the checkpoint: drop --config/--init");
        }
        if (!differ.isEmpty()) {
            throw new IllegalArgumentException("--resume continues the same run, but " + String.join(", ", differ)
                    + "; to train further from these weights start a new run with --init");
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
        io.longnet.model.AtomicFiles.write(dir.resolve(LOG), csv.toString().getBytes(StandardCharsets.UTF_8));
    }

    private static void writeReport(Path dir, Request r, LongNetConfig config, ParameterLayout layout, Summary s)
            throws IOException {
        ObjectNode report = JSON.createObjectNode();
        report.set("run", runState(r));
        report.put("parameters", layout.size());
        report.put("attention", config.attentionPattern().jsonName());
        report.put("steps", s.steps());
        report.put("final_train_loss", s.log().isEmpty() ? Double.NaN : s.log().get(s.log().size() - 1).loss());
        report.put("validation_windows", s.validationWindows());
        report.put("validation_loss", s.validationLoss());
        report.put("validation_perplexity", s.validationPerplexity());
        report.put("train_tokens_per_second", s.tokensPerSecond());
        report.put("seconds", s.seconds());
        io.longnet.model.AtomicFiles.write(dir.resolve(REPORT),
                JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(report));
    }

    private static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (var paths = Files.walk(dir)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
