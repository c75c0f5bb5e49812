package io.longnet.jobs;

import io.longnet.attention.AttentionBackends;
import io.longnet.datasets.TokenBlocks;
import io.longnet.datasets.TokenManifest;
import io.longnet.model.LongNetModel;
import java.io.IOException;
import java.nio.file.Path;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;

/**
 * What a job over a token dataset and a model (score, encode) opens and checks before any work: the
 * output path, the backend name, the model, and the token dataset, whose vocabulary must fit the model's.
 */
record ModelJobInputs(LongNetModel model, TokenManifest manifest, TokenSequences sequences) {

    static ModelJobInputs open(SparkSession spark, String tokens, String modelDir, String out, boolean overwrite,
                               String backend, int partitionLength) throws IOException {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        AttentionOutput.checkTarget(out, overwrite, conf);
        AttentionBackends.validate(backend);
        LongNetModel model = LongNetModel.load(Path.of(modelDir));
        TokenManifest manifest = TokenManifest.read(tokens, conf);
        if (manifest.vocabSize() > model.config().vocabSize()) {
            throw new IllegalArgumentException("tokens of " + tokens + " come from a vocabulary of "
                    + manifest.vocabSize() + " (" + manifest.tokenizer() + "), the model's has "
                    + model.config().vocabSize());
        }
        return new ModelJobInputs(model, manifest, new TokenSequences(TokenBlocks.read(spark, tokens),
                manifest.blockSize(), model.config(), partitionLength));
    }
}
