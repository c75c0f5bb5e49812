package io.longnet;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.core.importer.Location;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

/**
 * The dependency rules of docs/ARCHITECTURE.md §2, over the main classes of every module (this module's
 * test classpath holds them all). A violation fails the build with the rule and its reason.
 */
@AnalyzeClasses(packages = "io.longnet", importOptions = ArchitectureTest.MainClassesOnly.class)
class ArchitectureTest {

    private static final String[] SPARK_HADOOP_SCALA = {"org.apache.spark..", "org.apache.hadoop..", "scala.."};
    /** JCuda and JavaCPP's CUDA presets; JavaCPP itself also carries the bundled OpenBLAS (§6). */
    private static final String[] CUDA = {"jcuda..", "org.bytedeco.cuda.."};

    @ArchTest
    static final ArchRule mathImportsNoSparkHadoopOrCuda = noClasses()
            .that().resideInAnyPackage("io.longnet.attention..", "io.longnet.model..", "io.longnet.tensors..")
            .should().dependOnClassesThat().resideInAnyPackage(concat(SPARK_HADOOP_SCALA, CUDA))
            .because("the engine, the model and the tensor format run and are tested without a cluster or a"
                    + " device");

    @ArchTest
    static final ArchRule trainingIsSparkFree = noClasses()
            .that().resideInAPackage("io.longnet.training..")
            .should().dependOnClassesThat().resideInAnyPackage(concat(SPARK_HADOOP_SCALA, CUDA))
            .because("the trainer's math is checked in one process; Spark only distributes it (files go"
                    + " through io.longnet.storage)");

    @ArchTest
    static final ArchRule engineIsTheBottomLayer = noClasses()
            .that().resideInAPackage("io.longnet.attention..")
            .should().dependOnClassesThat().resideInAnyPackage("io.longnet.model..", "io.longnet.training..",
                    "io.longnet.spark..", "io.longnet.storage..", "io.longnet.datasets..", "io.longnet.gpu..",
                    "io.longnet.jobs..")
            .because("everything else builds on the engine, never the other way");

    @ArchTest
    static final ArchRule inferenceModelKnowsNoTrainingOrPlan = noClasses()
            .that().resideInAPackage("io.longnet.model..")
            .should().dependOnClassesThat().resideInAnyPackage("io.longnet.training..", "io.longnet.spark..",
                    "io.longnet.datasets..", "io.longnet.jobs..")
            .because("the float32 decoder is used by training and by the plan, not the other way");

    @ArchTest
    static final ArchRule nothingBelowTheJobsImportsThem = noClasses()
            .that().resideOutsideOfPackage("io.longnet.jobs..")
            .should().dependOnClassesThat().resideInAPackage("io.longnet.jobs..")
            .because("the jobs are the top layer: a library user never needs the CLI");

    @ArchTest
    static final ArchRule gpuBackendKnowsNoSparkPlan = noClasses()
            .that().resideInAPackage("io.longnet.gpu..")
            .should().dependOnClassesThat().resideInAnyPackage("org.apache.spark..", "io.longnet.spark..",
                    "io.longnet.datasets..", "io.longnet.training..")
            .because("the GPU backend computes what the engine's SPI asks; it knows no plan");

    @ArchTest
    static final ArchRule onlyTheGpuBackendTouchesCuda = noClasses()
            .that().resideOutsideOfPackage("io.longnet.gpu..")
            .should().dependOnClassesThat().resideInAnyPackage(concat(CUDA, "io.longnet.gpu.."))
            .because("jobs and stages find the GPU through ServiceLoader, so a CPU-only cluster needs no CUDA");

    @ArchTest
    static final ArchRule javaCppOnlyForCudaAndTheBundledBlas = noClasses()
            .that().resideOutsideOfPackage("io.longnet.gpu..")
            .and().doNotHaveFullyQualifiedName("io.longnet.model.BundledOpenBlas")
            .should().dependOnClassesThat().resideInAnyPackage("org.bytedeco..")
            .because("JavaCPP's presets are native code: the GPU backend's CUDA, and the bundled OpenBLAS that one"
                    + " class hands to netlib (docs/ARCHITECTURE.md §6)");

    /** Guards against rules that pass because nothing was imported. */
    @ArchTest
    static void everyModuleIsAnalysed(JavaClasses classes) {
        for (String name : List.of("io.longnet.attention.CpuAttentionKernel", "io.longnet.model.LongNetModel",
                "io.longnet.spark.PartitionPlan", "io.longnet.gpu.GpuAttentionKernel",
                "io.longnet.datasets.TokenBlocks", "io.longnet.jobs.Main")) {
            assertTrue(classes.contain(name), name + " was not imported");
        }
        assertTrue(classes.stream().noneMatch(c -> c.getSimpleName().endsWith("Test")),
                "test classes were imported");
    }

    private static String[] concat(String[] packages, String... more) {
        return Stream.concat(Arrays.stream(packages), Arrays.stream(more)).toArray(String[]::new);
    }

    /** Main classes only, whether a module is on the classpath as a folder or as a jar. */
    static final class MainClassesOnly implements ImportOption {
        @Override
        public boolean includes(Location location) {
            return !location.contains("/test-classes/") && !location.contains("-tests.jar");
        }
    }
}
