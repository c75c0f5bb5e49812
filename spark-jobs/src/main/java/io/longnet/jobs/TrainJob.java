package io.longnet.jobs;

import io.longnet.datasets.TokenBlocks;
import io.longnet.datasets.TokenManifest;
import io.longnet.spark.training.LongNetTraining;
import io.longnet.training.TrainingSettings;
import io.longnet.training.TrainingSummary;
import java.io.IOException;
import java.io.PrintStream;
import org.apache.spark.sql.SparkSession;

/**
 * {@code longnet train}: {@link LongNetTraining} on a token dataset written by {@code longnet tokenize}. The
 * command's part is the dataset: its manifest (whose vocabulary must fit the model's, and which gives the
 * block size) and its blocks.
 */
final class TrainJob {

    /** What to train, as the CLI gives it. {@code config} or {@code init} names the model's start. */
    record Request(String tokens, String config, String init, String out, long steps, int seqLen, int batch,
                   double learningRate, int warmupSteps, double weightDecay, double clipNorm, long seed,
                   double validationFraction, int checkpointEvery, int partitionLength, boolean resume,
                   boolean overwrite) {

        /** The training API's settings; the dataset's path names its data in the run's records. */
        LongNetTraining.Settings settings() {
            return new LongNetTraining.Settings(tokens, config, init, out, new TrainingSettings(steps, seqLen, batch,
                    learningRate, warmupSteps, weightDecay, clipNorm, seed, validationFraction, checkpointEvery),
                    partitionLength, resume, overwrite);
        }
    }

    private TrainJob() {
    }

    static TrainingSummary run(SparkSession spark, Request r, PrintStream out) throws IOException {
        LongNetTraining training = LongNetTraining.start(r.settings());
        TokenManifest manifest = TokenManifest.read(r.tokens(), spark.sparkContext().hadoopConfiguration());
        if (manifest.vocabSize() > training.config().vocabSize()) {
            throw new IllegalArgumentException("tokens of " + r.tokens() + " come from a vocabulary of "
                    + manifest.vocabSize() + " (" + manifest.tokenizer() + "), the model's has "
                    + training.config().vocabSize());
        }
        return training.train(TokenBlocks.read(spark, r.tokens()), manifest.blockSize(), out);
    }
}
