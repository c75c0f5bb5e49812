package io.longnet.jobs;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.attention.Backend;
import io.longnet.attention.Branch;
import io.longnet.datasets.DocumentMode;
import io.longnet.datasets.SyntheticQkv;
import io.longnet.datasets.TokenBlocks;
import io.longnet.datasets.TokenizeOptions;
import io.longnet.model.LongNetConfig;
import io.longnet.model.LongNetModel;
import io.longnet.tensors.DType;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * An executor JVM killed in the middle of a job, on a real multi-JVM cluster ({@link LocalCluster}): the job
 * still succeeds, and its output is the same as an undisturbed run's, byte for byte (Parquet datasets
 * compared by content, rows sorted; timings left out). The kill is {@link ExecutorKillPlugin}'s, at the K-th
 * task of the job (K a fraction of the undisturbed run's task count), as the task starts or once it has done
 * all its work, written its output included, before the driver hears of it (its retry finds what the dead
 * attempt wrote).
 */
class ExecutorLossTest {

    @TempDir
    static Path dir;

    static SparkSession spark;
    static Path control;
    /** Per job, the undisturbed run's output and its task count. */
    static final Map<String, Path> REFERENCE = new HashMap<>();
    static final Map<String, Integer> TASKS = new HashMap<>();

    static String qkv;
    static String tokens;
    static Path model;
    static Path trainConfig;

    @BeforeAll
    static void cluster() throws Exception {
        control = dir.resolve("control");
        spark = LocalCluster.start(dir, control);
        qkv = dir.resolve("qkv.safetensors").toUri().toString();
        SyntheticQkv.write(qkv, new Configuration(), 2048, 2, 8, DType.F32, 20261130);
        Path corpus = dir.resolve("corpus.txt");
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 6; i++) {
            // 25 to 70 bytes: the longer lines run sequence-parallel, over 2 or 3 partitions of 32
            text.append("line ").append(i).append(" of the corpus, ").append("and more words ".repeat(i % 4)).append('\n');
        }
        Files.writeString(corpus, text.toString());
        tokens = dir.resolve("tokens").toUri().toString();
        TokenBlocks.write(spark, corpus.toUri().toString(), tokens, TokenizeOptions.defaults(DocumentMode.LINE)
                .withBlockSize(8));
        LongNetConfig config = LongNetConfig.of(258, 16, 2, 2, 32, "8:1,16:2,32:4");
        model = dir.resolve("model");
        LongNetModel.initialize(config, 5).save(model);
        trainConfig = dir.resolve("config.json");
        config.write(trainConfig);
    }

    /** HDFS (started for the case that writes there): {@code hdfs://localhost:PORT}. */
    static org.apache.hadoop.hdfs.MiniDFSCluster hdfsCluster;
    static String hdfs;

    static String hdfs() throws IOException {
        if (hdfsCluster == null) {
            Configuration conf = new Configuration();
            conf.set(org.apache.hadoop.hdfs.MiniDFSCluster.HDFS_MINIDFS_BASEDIR, dir.resolve("hdfs").toString());
            hdfsCluster = new org.apache.hadoop.hdfs.MiniDFSCluster.Builder(conf).numDataNodes(1).build();
            hdfsCluster.waitActive();
            hdfs = "hdfs://localhost:" + hdfsCluster.getNameNodePort();
            hdfsCluster.getFileSystem().copyFromLocalFile(new org.apache.hadoop.fs.Path(qkv),
                    new org.apache.hadoop.fs.Path(hdfs + "/qkv.safetensors"));
        }
        return hdfs;
    }

    @AfterAll
    static void stop() {
        if (spark != null) {
            spark.stop();
        }
        if (hdfsCluster != null) {
            hdfsCluster.shutdown();
        }
    }

    /** Runs {@code job} writing {@code out}. */
    static void run(String job, Path out) throws Exception {
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
        String o = out.toString();
        switch (job) {
            // Every branch within a partition: tasks compute into the output file's mapped rows.
            case "attend-mapped" -> AttendJob.run(spark, new AttendJob.Request(qkv, o + ".safetensors",
                    Branch.parseList("128:1,256:2"), null, false, 256, Backend.CPU, false), quiet);
            // Branch 1024:4 spans partitions: exchanged rows, written in place by the tasks.
            case "attend-rows" -> AttendJob.run(spark, new AttendJob.Request(qkv, o + ".safetensors",
                    Branch.parseList("128:1,1024:4"), null, true, 256, Backend.CPU, false), quiet);
            case "attend-parquet" -> AttendJob.run(spark, new AttendJob.Request(qkv, o,
                    Branch.parseList("128:1,1024:4"), null, false, 256, Backend.CPU, false), quiet);
            // On HDFS (no positioned writes) tasks write part files, which the driver joins into the file.
            case "attend-hdfs" -> {
                String remote = hdfs() + "/" + out.getFileName() + ".safetensors";
                AttendJob.run(spark, new AttendJob.Request(hdfs() + "/qkv.safetensors", remote,
                        Branch.parseList("128:1,1024:4"), null, false, 256, Backend.CPU, false), quiet);
                hdfsCluster.getFileSystem().copyToLocalFile(new org.apache.hadoop.fs.Path(remote),
                        new org.apache.hadoop.fs.Path(o + ".safetensors"));
            }
            // Every sequence within a partition, scored whole in a task (encode covers the sequence-parallel model).
            case "score" -> ScoreJob.run(spark, new ScoreJob.Request(tokens, model.toString(), o, true, 128,
                    Backend.CPU, 1, null, false), quiet);
            // Hidden states checkpointed after every layer: recovery reads them back.
            case "encode" -> EncodeJob.run(spark, new EncodeJob.Request(tokens, model.toString(), o, null, false, 32,
                    Backend.CPU, 1, null, false), quiet);
            case "train" -> TrainJob.run(spark, new TrainJob.Request(tokens, trainConfig.toString(), null, o, 3, 32, 4,
                    3e-3, 1, 0.01, 1.0, 7, 0.1, 2, 0, false, false), quiet);
            // Counter-generated inputs, nothing stored: the checksums and sampled rows, in a file to compare.
            case "bench-synthetic" -> {
                StringBuilder text = new StringBuilder();
                for (AttendBench.SyntheticRun r : AttendBench.runSynthetic(spark, new AttendBench.SyntheticRequest(
                        new io.longnet.attention.BranchTemplate("16:1,L:L/16,N:N/16"), 2, 8, List.of(4096L),
                        List.of(true), 256, Backend.CPU, true, 9, 2, io.longnet.spark.ExchangeMode.AUTO), quiet)) {
                    for (io.longnet.spark.SyntheticPartition p : r.partitions()) {
                        text.append(p.partition()).append(' ').append(p.checksum().describe()).append(' ')
                                .append(java.util.Arrays.toString(p.samplePositions()))
                                .append(java.util.Arrays.toString(p.sampleO()))
                                .append(java.util.Arrays.toString(p.sampleLse())).append('\n');
                    }
                }
                Files.writeString(out, text.toString());
            }
            default -> throw new IllegalArgumentException(job);
        }
    }

    static Path output(Path out) {
        return Files.exists(Path.of(out + ".safetensors")) ? Path.of(out + ".safetensors") : out;
    }

    /** Sets the plugin's plan and clears its counts. */
    static void plan(String plan) throws IOException {
        try (Stream<Path> s = Files.list(control)) {
            for (Path p : s.toList()) {
                Files.delete(p);
            }
        }
        Files.writeString(control.resolve("plan"), plan);
    }

    static int ticks() throws IOException {
        try (Stream<Path> s = Files.list(control)) {
            return (int) s.filter(p -> p.getFileName().toString().startsWith("tick-")).count();
        }
    }

    @ParameterizedTest(name = "{0}: executor killed at task {2} of the run''s tasks, at its {1}")
    @CsvSource({
            "attend-mapped, success, 0.5",
            "attend-rows, success, 0.9",
            "attend-parquet, success, 0.7",
            "attend-hdfs, success, 0.8",
            "score, success, 0.5",
            "encode, start, 0.6",
            "train, success, 0.5",
            "bench-synthetic, success, 0.6"})
    void aLostExecutorChangesNothingInTheOutput(String job, String moment, double at) throws Exception {
        if (!REFERENCE.containsKey(job)) {
            plan("count");
            Path ref = dir.resolve(job + "-undisturbed");
            run(job, ref);
            REFERENCE.put(job, output(ref));
            TASKS.put(job, ticks());
        }
        int k = Math.max(1, (int) Math.round(at * TASKS.get(job)));
        plan(moment + " " + k);
        Path out = dir.resolve(job + "-" + moment + "-" + k);
        run(job, out);
        assertTrue(Files.exists(control.resolve("killed")), "the executor was not killed: task " + k + " of "
                + TASKS.get(job) + " never came");
        System.out.println("ExecutorLossTest " + job + ": " + Files.readString(control.resolve("killed"))
                + " (of " + TASKS.get(job) + " tasks undisturbed)");
        OutputContent.assertSame(spark, REFERENCE.get(job), output(out));
    }
}
