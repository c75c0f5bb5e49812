package io.longnet.jobs;

import io.longnet.attention.Backend;
import io.longnet.datasets.TokenBlocks;
import io.longnet.datasets.TokenManifest;
import io.longnet.model.LongNetModel;
import io.longnet.spark.TokenSequences;
import io.longnet.storage.AtomicOutput;
import java.io.IOException;
import java.nio.file.Path;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;

/**
 * What a job over a token dataset and a model (score, encode) opens and checks before any work: the
 * output path, the model, the token dataset (whose vocabulary must fit the model's, and whose files and
 * document index must hold what its manifest lists),
 * and the checkpoint directory of long sequences' layer chains: the one given, or a hidden sibling of the
 * output that {@link #close} removes.
 */
record ModelJobInputs(LongNetModel model, TokenManifest manifest, TokenSequences sequences,
                      org.apache.hadoop.fs.Path ownCheckpoints, Configuration conf, long startNanos,
                      String openTimes)
        implements AutoCloseable {

    /** What such a job is asked: its inputs, its output and how to run the model. */
    interface Request {
        String tokens();

        String model();

        String out();

        boolean overwrite();

        int partitionLength();

        Backend backend();

        /** Where long sequences' layer chains are checkpointed; null or blank: a hidden sibling of the output. */
        String checkpointDir();
    }

    /** What a job does with its inputs. */
    interface Job<T> {
        T run(ModelJobInputs in) throws IOException;
    }

    /** Opens the inputs of {@code r}, runs {@code job} on them and closes them (removing the job's own checkpoints). */
    static <T> T run(SparkSession spark, Request r, Job<T> job) throws IOException {
        long startNanos = System.nanoTime();
        try (ModelJobInputs in = open(spark, r.tokens(), r.model(), r.out(), r.overwrite(), r.partitionLength(),
                r.backend(), r.checkpointDir(), startNanos)) {
            return job.run(in);
        }
    }

    /** What ran the model, one line each: the decoders of the tasks and the sequence-parallel runs. */
    static void printRanOn(TokenSequences sequences, java.io.PrintStream out) {
        sequences.ranOn().forEach(line -> out.println("ran on: " + line));
    }

    /** Seconds since the job started, before its inputs were opened. */
    double seconds() {
        return (System.nanoTime() - startNanos) / 1e9;
    }

    private static ModelJobInputs open(SparkSession spark, String tokens, String modelDir, String out, boolean overwrite,
                                       int partitionLength, Backend backend, String checkpointDir, long startNanos)
            throws IOException {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        AtomicOutput.requireAbsent(out, conf, overwrite);
        LongNetModel model = LongNetModel.load(Path.of(modelDir));
        long loaded = System.nanoTime();
        TokenManifest manifest = TokenManifest.read(tokens, conf);
        if (manifest.vocabSize() > model.config().vocabSize()) {
            throw new IllegalArgumentException("tokens of " + tokens + " come from a vocabulary of "
                    + manifest.vocabSize() + " (" + manifest.tokenizer() + "), the model's has "
                    + model.config().vocabSize());
        }
        long read = System.nanoTime();
        TokenSequences sequences = new TokenSequences(TokenBlocks.read(spark, tokens), manifest.blockSize(),
                model.config(), partitionLength, backend);
        if (sequences.count() != manifest.sequences() || sequences.tokens() != manifest.tokens()) {
            throw new IllegalArgumentException(String.format(java.util.Locale.ROOT, "token dataset %s is incomplete or"
                    + " altered: its manifest lists %,d sequence(s) and %,d token(s), its files hold %,d and %,d (a part"
                    + " file missing or added?); tokenize it again", tokens, manifest.sequences(), manifest.tokens(),
                    sequences.count(), sequences.tokens()));
        }
        TokenBlocks.checkDocuments(spark, tokens, manifest);
        String openTimes = String.format(java.util.Locale.ROOT, "model %.2f s, manifest %.2f s, sequence lengths and"
                + " their checks %.2f s", (loaded - startNanos) / 1e9, (read - loaded) / 1e9,
                (System.nanoTime() - read) / 1e9);
        org.apache.hadoop.fs.Path own = null;
        if (checkpointDir == null || checkpointDir.isBlank()) {
            own = AtomicOutput.sibling(new org.apache.hadoop.fs.Path(out), "checkpoints");
            checkpointDir = own.toString();
        }
        spark.sparkContext().setCheckpointDir(checkpointDir);
        return new ModelJobInputs(model, manifest, sequences, own, conf, startNanos, openTimes);
    }

    /** Removes the checkpoint directory this job made (a given one is the user's). */
    @Override
    public void close() throws IOException {
        if (ownCheckpoints != null) {
            ownCheckpoints.getFileSystem(conf).delete(ownCheckpoints, true);
        }
    }
}
