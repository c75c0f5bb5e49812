package io.longnet.spark.ml;

import io.longnet.spark.training.LongNetTraining;
import io.longnet.training.TrainingSettings;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.apache.spark.ml.Estimator;
import org.apache.spark.ml.param.BooleanParam;
import org.apache.spark.ml.param.DoubleParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.LongParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.DefaultParamsWritable;
import org.apache.spark.ml.util.Identifiable$;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.StructType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Trains a LongNet language model, as a Spark ML {@link Estimator}: {@link #fit} runs {@link LongNetTraining}
 * (what {@code longnet train} runs, with the same settings and defaults) on the token block layout
 * ({@code seq_id long, block long}, token ids {@code array<int>} in {@code tokensCol}, as for
 * {@link LongNetScorer}; the block size is the data's longest block), writes the model, its checkpoints,
 * {@code training.json} and {@code log.csv} to {@code modelPath}, and returns a {@link LongNetScorer} of the
 * trained model. Progress lines go to the log (SLF4J, INFO).
 *
 * <p>The settings are checked where training checks them ({@link TrainingSettings}, {@link LongNetTraining}),
 * so that the estimator and the command accept and refuse the same values; {@link #transformSchema} builds
 * them, so a bad value fails before any work.
 */
public final class LongNetTrainer extends Estimator<LongNetScorer>
        implements DefaultParamsWritable, HasTokensCol<LongNetTrainer>, HasPartitionLength<LongNetTrainer>,
        HasModelPath<LongNetTrainer> {

    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(LongNetTrainer.class);

    private final String uid;
    private final Param<String> configPath;
    private final Param<String> initModelPath;
    private final LongParam steps;
    private final IntParam seqLen;
    private final IntParam batch;
    private final DoubleParam learningRate;
    private final IntParam warmupSteps;
    private final DoubleParam weightDecay;
    private final DoubleParam clipNorm;
    private final LongParam seed;
    private final DoubleParam validationFraction;
    private final IntParam checkpointEvery;
    private final BooleanParam resume;
    private final BooleanParam overwrite;

    public LongNetTrainer() {
        this(Identifiable$.MODULE$.randomUID("longNetTrainer"));
    }

    public LongNetTrainer(String uid) {
        this.uid = uid;
        configPath = new Param<>(this, "configPath", "local path of the config JSON of a new model (docs/MODEL.md);"
                + " empty: start from initModelPath");
        initModelPath = new Param<>(this, "initModelPath", "local directory of a LongNet model whose weights to"
                + " start from; empty: a new model of configPath");
        steps = new LongParam(this, "steps", "optimiser steps (>= 1)");
        seqLen = new IntParam(this, "seqLen", "tokens per training window (>= 2)");
        batch = new IntParam(this, "batch", "windows per step (>= 1)");
        learningRate = new DoubleParam(this, "learningRate", "peak learning rate (> 0)");
        warmupSteps = new IntParam(this, "warmupSteps", "linear warm-up steps; -1: min(100, steps/10)");
        weightDecay = new DoubleParam(this, "weightDecay", "AdamW weight decay of the matrices (>= 0)");
        clipNorm = new DoubleParam(this, "clipNorm", "clip the gradient's global norm to this (0: never)");
        seed = new LongParam(this, "seed", "seed of a new model's weights and of the batch order");
        validationFraction = new DoubleParam(this, "validationFraction", "fraction of windows held out (the last"
                + " ones) for the validation loss, in [0, 1)");
        checkpointEvery = new IntParam(this, "checkpointEvery", "write a training checkpoint every this many"
                + " steps, and at the end (>= 1)");
        resume = new BooleanParam(this, "resume", "continue from the newest checkpoint in modelPath/checkpoints"
                + " (the same settings, configPath and initModelPath empty)");
        overwrite = new BooleanParam(this, "overwrite", "start again, replacing an existing modelPath");
        setDefault(configPath, "");
        setDefault(initModelPath, "");
        declareModelPath();
        declareTokensCol();
        declarePartitionLength();
        setDefault(steps, 200L);
        setDefault(seqLen, 512);
        setDefault(batch, 8);
        setDefault(learningRate, 1e-3);
        setDefault(warmupSteps, -1);
        setDefault(weightDecay, 0.01);
        setDefault(clipNorm, 1.0);
        setDefault(seed, 0L);
        setDefault(validationFraction, 0.1);
        setDefault(checkpointEvery, 50);
        setDefault(resume, false);
        setDefault(overwrite, false);
    }

    @Override
    public String uid() {
        return uid;
    }

    public Param<String> configPath() {
        return configPath;
    }

    public Param<String> initModelPath() {
        return initModelPath;
    }

    public LongParam steps() {
        return steps;
    }

    public IntParam seqLen() {
        return seqLen;
    }

    public IntParam batch() {
        return batch;
    }

    public DoubleParam learningRate() {
        return learningRate;
    }

    public IntParam warmupSteps() {
        return warmupSteps;
    }

    public DoubleParam weightDecay() {
        return weightDecay;
    }

    public DoubleParam clipNorm() {
        return clipNorm;
    }

    public LongParam seed() {
        return seed;
    }

    public DoubleParam validationFraction() {
        return validationFraction;
    }

    public IntParam checkpointEvery() {
        return checkpointEvery;
    }

    public BooleanParam resume() {
        return resume;
    }

    public BooleanParam overwrite() {
        return overwrite;
    }

    public String getConfigPath() {
        return $(configPath);
    }

    public String getInitModelPath() {
        return $(initModelPath);
    }

    public long getSteps() {
        return (Long) $(steps);
    }

    public int getSeqLen() {
        return (Integer) $(seqLen);
    }

    public int getBatch() {
        return (Integer) $(batch);
    }

    public double getLearningRate() {
        return (Double) $(learningRate);
    }

    public int getWarmupSteps() {
        return (Integer) $(warmupSteps);
    }

    public double getWeightDecay() {
        return (Double) $(weightDecay);
    }

    public double getClipNorm() {
        return (Double) $(clipNorm);
    }

    public long getSeed() {
        return (Long) $(seed);
    }

    public double getValidationFraction() {
        return (Double) $(validationFraction);
    }

    public int getCheckpointEvery() {
        return (Integer) $(checkpointEvery);
    }

    public boolean getResume() {
        return (Boolean) $(resume);
    }

    public boolean getOverwrite() {
        return (Boolean) $(overwrite);
    }

    public LongNetTrainer setConfigPath(String value) {
        return setParam(configPath, value);
    }

    public LongNetTrainer setInitModelPath(String value) {
        return setParam(initModelPath, value);
    }

    public LongNetTrainer setSteps(long value) {
        return setParam(steps, value);
    }

    public LongNetTrainer setSeqLen(int value) {
        return setParam(seqLen, value);
    }

    public LongNetTrainer setBatch(int value) {
        return setParam(batch, value);
    }

    public LongNetTrainer setLearningRate(double value) {
        return setParam(learningRate, value);
    }

    public LongNetTrainer setWarmupSteps(int value) {
        return setParam(warmupSteps, value);
    }

    public LongNetTrainer setWeightDecay(double value) {
        return setParam(weightDecay, value);
    }

    public LongNetTrainer setClipNorm(double value) {
        return setParam(clipNorm, value);
    }

    public LongNetTrainer setSeed(long value) {
        return setParam(seed, value);
    }

    public LongNetTrainer setValidationFraction(double value) {
        return setParam(validationFraction, value);
    }

    public LongNetTrainer setCheckpointEvery(int value) {
        return setParam(checkpointEvery, value);
    }

    public LongNetTrainer setResume(boolean value) {
        return setParam(resume, value);
    }

    public LongNetTrainer setOverwrite(boolean value) {
        return setParam(overwrite, value);
    }

    /** The training API's settings of these params; they check themselves. */
    public LongNetTraining.Settings settings() {
        String out = getModelPath();
        if (out.isBlank()) {
            throw new IllegalArgumentException("param modelPath is not set: give the directory, local to the driver,"
                    + " to write the trained model to");
        }
        return new LongNetTraining.Settings("column " + getTokensCol() + " of a DataFrame", orNull(getConfigPath()),
                orNull(getInitModelPath()), localPath(out), new TrainingSettings(getSteps(), getSeqLen(), getBatch(),
                getLearningRate(), getWarmupSteps(), getWeightDecay(), getClipNorm(), getSeed(),
                getValidationFraction(), getCheckpointEvery()), getPartitionLength(), getResume(), getOverwrite());
    }

    private static String orNull(String path) {
        return path.isBlank() ? null : localPath(path);
    }

    /** A local path, given as one or as a {@code file:} URI. */
    private static String localPath(String path) {
        return path.startsWith("file:") ? Path.of(URI.create(path)).toString() : path;
    }

    /** Checks the params and the input columns; the output is the fitted scorer's ({@link LongNetScorer#SCHEMA}). */
    @Override
    public StructType transformSchema(StructType schema) {
        settings();
        LongNetModelStage.requireKeyColumns(schema);
        validateTokensCol(schema);
        return LongNetScorer.SCHEMA;
    }

    /** Trains, and returns a scorer of the trained model ({@code modelPath}, {@code tokensCol}), its parent this. */
    @Override
    public LongNetScorer fit(Dataset<?> dataset) {
        transformSchema(dataset.schema());
        Dataset<Row> blocks = dataset.select(functions.col(LongNetModelStage.SEQ_ID),
                functions.col(LongNetModelStage.BLOCK), functions.col(getTokensCol()).as("tokens"));
        try (PrintStream progress = new PrintStream(new LogLines(), true, StandardCharsets.UTF_8)) {
            LongNetTraining.train(settings(), blocks, 0, progress);
        } catch (IOException e) {
            throw new UncheckedIOException("training into " + getModelPath() + " failed: " + e.getMessage(), e);
        }
        return new LongNetScorer(uid).setModelPath(getModelPath()).setTokensCol(getTokensCol()).setParent(this);
    }

    @Override
    public LongNetTrainer copy(ParamMap extra) {
        return defaultCopy(extra);
    }

    /** Reader for {@link #load(String)}; the params are read back as written. */
    public static MLReader<LongNetTrainer> read() {
        return new DefaultParamsReader<>();
    }

    /** Loads an estimator written with {@code write().save(path)}. */
    public static LongNetTrainer load(String path) {
        return read().load(path);
    }

    /** Each line written, to the log. */
    private static final class LogLines extends OutputStream {
        private final ByteArrayOutputStream line = new ByteArrayOutputStream();

        @Override
        public void write(int b) {
            if (b == '\n') {
                LOG.info(line.toString(StandardCharsets.UTF_8));
                line.reset();
            } else {
                line.write(b);
            }
        }
    }
}
