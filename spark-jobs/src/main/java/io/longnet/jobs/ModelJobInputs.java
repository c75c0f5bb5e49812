package io.longnet.jobs;

import io.longnet.datasets.TokenBlocks;
import io.longnet.datasets.TokenManifest;
import io.longnet.model.LongNetModel;
import io.longnet.spark.TokenSequences;
import java.io.IOException;
import java.nio.file.Path;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;

/**
 * What a job over a token dataset and a model (score, encode) opens and checks before any work: the
 * output path, the model, the token dataset (whose vocabulary must fit the model's),
 * and the checkpoint directory of long sequences' layer chains: the one given, or a hidden sibling of the
 * output that {@link #close} removes.
 */
record ModelJobInputs(LongNetModel model, TokenManifest manifest, TokenSequences sequences,
                      org.apache.hadoop.fs.Path ownCheckpoints, Configuration conf) implements AutoCloseable {

    static ModelJobInputs open(SparkSession spark, String tokens, String modelDir, String out, boolean overwrite,
                               int partitionLength, String checkpointDir) throws IOException {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        AttentionOutput.checkTarget(out, overwrite, conf);
        LongNetModel model = LongNetModel.load(Path.of(modelDir));
        TokenManifest manifest = TokenManifest.read(tokens, conf);
        if (manifest.vocabSize() > model.config().vocabSize()) {
            throw new IllegalArgumentException("tokens of " + tokens + " come from a vocabulary of "
                    + manifest.vocabSize() + " (" + manifest.tokenizer() + "), the model's has "
                    + model.config().vocabSize());
        }
        TokenSequences sequences = new TokenSequences(TokenBlocks.read(spark, tokens), manifest.blockSize(),
                model.config(), partitionLength);
        org.apache.hadoop.fs.Path own = null;
        if (checkpointDir == null || checkpointDir.isBlank()) {
            org.apache.hadoop.fs.Path target = new org.apache.hadoop.fs.Path(out);
            own = new org.apache.hadoop.fs.Path(target.getParent(),
                    "." + target.getName() + ".longnet-checkpoints-" + java.util.UUID.randomUUID());
            checkpointDir = own.toString();
        }
        spark.sparkContext().setCheckpointDir(checkpointDir);
        return new ModelJobInputs(model, manifest, sequences, own, conf);
    }

    /** Removes the checkpoint directory this job made (a given one is the user's). */
    @Override
    public void close() throws IOException {
        if (ownCheckpoints != null) {
            ownCheckpoints.getFileSystem(conf).delete(ownCheckpoints, true);
        }
    }
}
