package io.longnet.spark.ml;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.spark.SparkSessionExtension;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Arrays;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.Params;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The shared params traits: stages saved before the params moved into them still load with their values
 * and defaults (metadata checked in under saved/), and each stage lists each param once.
 */
class SharedParamsTest {

    @RegisterExtension
    static final SparkSessionExtension SPARK = new SparkSessionExtension();

    private static String saved(String stage) throws URISyntaxException {
        return Path.of(SharedParamsTest.class.getResource("saved/" + stage).toURI()).toString();
    }

    @Test
    void dilatedAttentionSavedBeforeLoads() throws URISyntaxException {
        DilatedAttention stage = DilatedAttention.load(saved("dilated-attention"));
        assertEquals("da1", stage.uid());
        assertEquals("cpu", stage.getBackend());
        assertEquals(8, stage.getPartitionLength());
        assertEquals("8:1,16:2", stage.getBranches());
        assertEquals("auto", stage.getDefault(stage.backend()).get());
        assertEquals(0, stage.getDefault(stage.partitionLength()).get());
        assertEquals(stage.extractParamMap().toString(),
                new DilatedAttention("da1").setBackend("cpu").setPartitionLength(8).setBranches("8:1,16:2")
                        .extractParamMap().toString());
    }

    @Test
    void modelStagesSavedBeforeLoad() throws URISyntaxException {
        LongNetEncoder encoder = LongNetEncoder.load(saved("encoder"));
        assertEquals("ids", encoder.getTokensCol());
        assertEquals(2, encoder.getCheckpointEvery());
        assertEquals(1, encoder.getLayer());
        assertEquals("/m", encoder.getModelPath());
        assertEquals("auto", encoder.getBackend());
        assertEquals(0, encoder.getPartitionLength());
        LongNetScorer scorer = LongNetScorer.load(saved("scorer"));
        assertEquals("gpu", scorer.getBackend());
        assertEquals(64, scorer.getPartitionLength());
        assertEquals("lp", scorer.getLogProbsCol());
        assertEquals("tokens", scorer.getTokensCol());
        assertEquals(0, scorer.getCheckpointEvery());
        assertEquals(scorer.extractParamMap().toString(), new LongNetScorer("sc1").setBackend("gpu")
                .setPartitionLength(64).setLogProbsCol("lp").extractParamMap().toString());
    }

    @Test
    void eachStageListsEachParamOnceAndOwnsTheSharedOnes() {
        for (Params stage : new Params[] {new DilatedAttention(), new LongNetEncoder(), new LongNetScorer()}) {
            String[] names = Arrays.stream(stage.params()).map(Param::name).toArray(String[]::new);
            assertEquals(names.length, Arrays.stream(names).distinct().count(), Arrays.toString(names));
            assertTrue(Arrays.asList(names).contains("backend"), Arrays.toString(names));
            assertTrue(Arrays.asList(names).contains("partitionLength"), Arrays.toString(names));
            assertTrue(stage.isDefined(stage.getParam("backend")));
        }
        // A param of one stage is not another's: set checks the owner.
        DilatedAttention a = new DilatedAttention();
        LongNetScorer b = new LongNetScorer();
        assertThrows(IllegalArgumentException.class, () -> a.set(b.backend(), "cpu"));
    }

    @Test
    void outputColAndModelPathKeepEachStagesDefault() {
        assertEquals("o", new DilatedAttention().getOutputCol());
        assertEquals("hidden", new LongNetEncoder().getOutputCol());
        for (HasModelPath<?> stage : new HasModelPath<?>[] {new LongNetScorer(), new LongNetTrainer()}) {
            assertEquals("", stage.getModelPath());
            assertEquals(1, Arrays.stream(stage.params()).filter(p -> p.name().equals("modelPath")).count());
        }
        assertEquals("/m", new LongNetTrainer().setModelPath("/m").setSteps(3).getModelPath());
    }
}
