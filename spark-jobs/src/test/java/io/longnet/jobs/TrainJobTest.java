package io.longnet.jobs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.datasets.DocumentMode;
import io.longnet.datasets.TokenBlocks;
import io.longnet.datasets.TokenizeOptions;
import io.longnet.model.LongNetConfig;
import io.longnet.model.LongNetModel;
import io.longnet.spark.SparkSessionExtension;
import io.longnet.spark.ml.LongNetScorer;
import io.longnet.spark.ml.LongNetTrainer;
import io.longnet.spark.training.LongNetTraining;
import io.longnet.training.StepLog;
import io.longnet.training.TrainingCheckpoint;
import io.longnet.training.TrainingSummary;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** longnet train on a tiny corpus: the loss falls, --resume reproduces the uninterrupted run, bad input fails early. */
class TrainJobTest {

    @RegisterExtension
    static final SparkSessionExtension SPARK = new SparkSessionExtension();

    @TempDir
    Path dir;

    private String tokens;
    private Path config;

    @BeforeEach
    void corpus() throws Exception {
        Path corpus = dir.resolve("corpus.txt");
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 24; i++) {
            text.append("the cat sat on the mat and the dog sat on the log ").append(i % 3).append('\n');
        }
        Files.writeString(corpus, text.toString());
        tokens = dir.resolve("tokens").toUri().toString();
        TokenBlocks.write(SPARK.session(), corpus.toUri().toString(), tokens,
                TokenizeOptions.defaults(DocumentMode.LINE).withBlockSize(16));
        config = dir.resolve("config.json");
        LongNetConfig.of(258, 16, 2, 2, 32, "8:1,16:2,32:4").write(config);
    }

    private TrainJob.Request request(Path out, long steps, boolean resume) {
        // A resumed run is given the command line that started it, --config included (as the README's).
        return new TrainJob.Request(tokens, config.toString(), null, out.toString(), steps, 32, 4, 3e-3,
                2, 0.01, 1.0, 7, 0.1, 3, 0, resume, false);
    }

    private static TrainingSummary train(TrainJob.Request r, ByteArrayOutputStream log) throws Exception {
        return TrainJob.run(SPARK.session(), r, new PrintStream(log, true, StandardCharsets.UTF_8));
    }

    @Test
    void lossFallsAndTheModelScores() throws Exception {
        Path out = dir.resolve("run");
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        TrainingSummary s = train(request(out, 12, false), log);
        List<StepLog> steps = s.log();
        assertEquals(12, steps.size());
        double first = steps.get(0).loss();
        double last = (steps.get(10).loss() + steps.get(11).loss()) / 2;
        assertTrue(last < first - 0.5, "training lowers the loss: step 1 " + first + ", steps 11-12 " + last);
        assertTrue(Double.isFinite(s.validationLoss()) && s.validationLoss() < first,
                "validation NLL " + s.validationLoss() + " below the untrained loss " + first);
        assertTrue(log.toString(StandardCharsets.UTF_8).contains("step 12/12: loss "), log.toString());
        // The float32 model the job leaves behind is what score reads.
        LongNetModel model = LongNetModel.load(out);
        assertEquals(16, model.config().dModel());
        assertTrue(Files.exists(out.resolve(LongNetTraining.REPORT)) && Files.exists(out.resolve(LongNetTraining.LOG)));
    }

    @Test
    void resumeReproducesTheUninterruptedRunBitForBit() throws Exception {
        Path full = dir.resolve("full");
        train(request(full, 6, false), new ByteArrayOutputStream());
        // An interrupted run: the same output as it stood after the checkpoint of step 3.
        Path cut = dir.resolve("cut");
        copy(full, cut);
        TrainingCheckpoint at6 = TrainingCheckpoint.latest(cut.resolve(LongNetTraining.CHECKPOINTS)).orElseThrow();
        assertEquals(6, at6.step());
        deleteCheckpoint(cut.resolve(LongNetTraining.CHECKPOINTS), 6);
        Files.delete(cut.resolve(LongNetModel.WEIGHTS_FILE));
        assertEquals(3, TrainingCheckpoint.latest(cut.resolve(LongNetTraining.CHECKPOINTS)).orElseThrow().step());

        // Another config is refused, saying what differs, before anything is touched.
        Path other = dir.resolve("other-config.json");
        LongNetConfig.of(258, 16, 2, 3, 32, "8:1,16:2").write(other);
        TrainJob.Request same = request(cut, 6, true);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> train(new TrainJob.Request(
                same.tokens(), other.toString(), null, same.out(), same.steps(), same.seqLen(), same.batch(),
                same.learningRate(), same.warmupSteps(), same.weightDecay(), same.clipNorm(), same.seed(),
                same.validationFraction(), same.checkpointEvery(), 0, true, false), new ByteArrayOutputStream()));
        assertEquals("--resume continues the checkpoint's model, but --config " + other + " differs from it: layers 3"
                + " (checkpoint: 2), branches \"8:1,16:2\" (checkpoint: \"8:1,16:2,32:4\"); drop --config to resume,"
                + " or start a new run (--overwrite, or another --out)", e.getMessage());
        assertEquals(3, TrainingCheckpoint.latest(cut.resolve(LongNetTraining.CHECKPOINTS)).orElseThrow().step());

        ByteArrayOutputStream log = new ByteArrayOutputStream();
        train(same, log);
        assertFalse(log.toString(StandardCharsets.UTF_8).contains("step 3/6"), "resumed after step 3: " + log);
        TrainingCheckpoint resumed = TrainingCheckpoint.latest(cut.resolve(LongNetTraining.CHECKPOINTS)).orElseThrow();
        assertEquals(6, resumed.step());
        assertArrayEquals(at6.params(), resumed.params(), "weights equal bit for bit");
        assertArrayEquals(Files.readAllBytes(full.resolve(LongNetModel.WEIGHTS_FILE)),
                Files.readAllBytes(cut.resolve(LongNetModel.WEIGHTS_FILE)), "the exported model too");
    }

    @Test
    void sequenceParallelTrainingEqualsDataParallel() throws Exception {
        // L = 16 cuts each window of 32 into 2 partitions: branch 32:4 is exchanged, and its gradients return.
        Path whole = dir.resolve("whole");
        Path spread = dir.resolve("spread");
        train(request(whole, 3, false), new ByteArrayOutputStream());
        TrainJob.Request r = request(spread, 3, false);
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        train(new TrainJob.Request(r.tokens(), r.config(), r.init(), r.out(), r.steps(), r.seqLen(), r.batch(),
                r.learningRate(), r.warmupSteps(), r.weightDecay(), r.clipNorm(), r.seed(), r.validationFraction(),
                r.checkpointEvery(), 16, false, false), log);
        assertTrue(log.toString(StandardCharsets.UTF_8).contains("each window over"), log.toString());
        double[] a = TrainingCheckpoint.latest(whole.resolve(LongNetTraining.CHECKPOINTS)).orElseThrow().params();
        double[] b = TrainingCheckpoint.latest(spread.resolve(LongNetTraining.CHECKPOINTS)).orElseThrow().params();
        double num = 0;
        double den = 0;
        for (int i = 0; i < a.length; i++) {
            num += (a[i] - b[i]) * (a[i] - b[i]);
            den += a[i] * a[i];
        }
        assertTrue(Math.sqrt(num / den) < 1e-9, "weights after 3 steps differ by " + Math.sqrt(num / den));
    }

    @Test
    void theEstimatorTrainsTheModelTheCommandTrains() throws Exception {
        Path job = dir.resolve("job");
        train(request(job, 3, false), new ByteArrayOutputStream());
        Path fitted = dir.resolve("fitted");
        LongNetScorer scorer = new LongNetTrainer().setConfigPath(config.toString()).setModelPath(fitted.toString())
                .setSteps(3).setSeqLen(32).setBatch(4).setLearningRate(3e-3).setWarmupSteps(2).setWeightDecay(0.01)
                .setClipNorm(1.0).setSeed(7).setValidationFraction(0.1).setCheckpointEvery(3)
                .fit(TokenBlocks.read(SPARK.session(), tokens));
        assertEquals(fitted.toString(), scorer.getModelPath());
        assertArrayEquals(Files.readAllBytes(job.resolve(LongNetModel.WEIGHTS_FILE)),
                Files.readAllBytes(fitted.resolve(LongNetModel.WEIGHTS_FILE)), "the same float32 model");
        assertArrayEquals(logLosses(job), logLosses(fitted), "the same losses step by step");
    }

    /** The loss column of a run's log. */
    private static String[] logLosses(Path run) throws Exception {
        return Files.readAllLines(run.resolve(LongNetTraining.LOG)).stream().map(l -> l.split(",")[1])
                .toArray(String[]::new);
    }

    @Test
    void theStridedBaselineTrainsAndLeavesItsWeights() throws Exception {
        Path strided = dir.resolve("strided.json");
        LongNetConfig.strided(258, 16, 2, 2, 32, 4).write(strided);
        Path out = dir.resolve("strided-run");
        TrainJob.Request r = request(out, 2, false);
        TrainingSummary s = train(new TrainJob.Request(r.tokens(), strided.toString(), null, r.out(), r.steps(),
                r.seqLen(), r.batch(), r.learningRate(), r.warmupSteps(), r.weightDecay(), r.clipNorm(), r.seed(),
                r.validationFraction(), r.checkpointEvery(), 0, false, false), new ByteArrayOutputStream());
        assertTrue(Double.isFinite(s.validationLoss()));
        LongNetConfig saved = LongNetConfig.read(out.resolve(LongNetModel.CONFIG_FILE));
        assertEquals(io.longnet.model.AttentionPattern.STRIDED, saved.attentionPattern());
        assertEquals(saved.tensorShapes().keySet(),
                io.longnet.model.ModelWeights.load(out.resolve(LongNetModel.WEIGHTS_FILE)).names());
    }

    @Test
    void badInputFailsBeforeAnyWork() throws Exception {
        Path out = dir.resolve("run");
        Files.createDirectories(out);
        IllegalArgumentException exists = assertThrows(IllegalArgumentException.class,
                () -> train(request(out, 2, false), new ByteArrayOutputStream()));
        assertTrue(exists.getMessage().contains("exists"), exists.getMessage());
        IllegalArgumentException noCheckpoint = assertThrows(IllegalArgumentException.class,
                () -> train(request(out, 2, true), new ByteArrayOutputStream()));
        assertTrue(noCheckpoint.getMessage().contains("no checkpoint"), noCheckpoint.getMessage());
        Path fresh = dir.resolve("fresh");
        TrainJob.Request tooLong = new TrainJob.Request(tokens, config.toString(), null, fresh.toString(), 2, 1 << 16, 4,
                1e-3, -1, 0.01, 1.0, 0, 0.1, 5, 0, false, false);
        IllegalArgumentException windows = assertThrows(IllegalArgumentException.class,
                () -> train(tooLong, new ByteArrayOutputStream()));
        assertTrue(windows.getMessage().contains("--seq-len"), windows.getMessage());
        assertFalse(Files.exists(fresh), "nothing written for a failed start");
    }

    private static void copy(Path from, Path to) throws Exception {
        try (Stream<Path> paths = Files.walk(from)) {
            for (Path p : paths.toList()) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target);
                }
            }
        }
    }

    /** Removes the checkpoint of {@code step} (the folder whose name ends in that step number). */
    private static void deleteCheckpoint(Path checkpoints, long step) throws Exception {
        try (Stream<Path> entries = Files.list(checkpoints)) {
            Path one = entries.filter(p -> p.getFileName().toString().matches(".*\\D0*" + step))
                    .findFirst().orElseThrow(() -> new AssertionError("no checkpoint of step " + step));
            try (Stream<Path> files = Files.walk(one)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
    }
}
