package io.longnet.jobs;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.spark.sql.SparkSession;

/**
 * Test-only: a real multi-JVM Spark cluster ({@code local-cluster[2,1,1024]}: a master and two workers in
 * this JVM, each worker's executor a JVM of its own) from the Maven test classpath, without a Spark
 * distribution: the workers are given a Spark home that holds only an empty {@code RELEASE} and
 * {@code jars/}, and the executors this JVM's classpath. The workers read the Spark home from
 * {@code spark.test.home} while {@code spark.testing} is set, which is so only while the session starts.
 */
final class LocalCluster {

    private LocalCluster() {
    }

    /** A two-executor session with {@code ExecutorKillPlugin} loaded, its control folder {@code control}. */
    static SparkSession start(Path scratch, Path control) throws IOException {
        Path home = Files.createDirectories(scratch.resolve("spark-home"));
        Files.createDirectories(home.resolve("jars"));
        Files.write(home.resolve("RELEASE"), new byte[0]);
        Files.createDirectories(control);
        Files.writeString(control.resolve("plan"), "count");
        String testing = System.getProperty("spark.testing");
        String testHome = System.getProperty("spark.test.home");
        System.setProperty("spark.testing", "true");
        System.setProperty("spark.test.home", home.toString());
        try {
            return SparkSession.builder()
                    .master("local-cluster[2,1,1024]")
                    .appName("ExecutorLossTest")
                    .config("spark.driver.host", "127.0.0.1")
                    .config("spark.driver.bindAddress", "127.0.0.1")
                    .config("spark.ui.enabled", "false")
                    .config("spark.sql.shuffle.partitions", "4")
                    .config("spark.executor.memory", "640m")
                    .config("spark.executor.extraClassPath", System.getProperty("java.class.path"))
                    .config("spark.executorEnv.SPARK_SCALA_VERSION", "2.13")
                    .config("spark.executorEnv.SPARK_LOCAL_IP", "127.0.0.1")
                    .config("spark.plugins", ExecutorKillPlugin.class.getName())
                    .config(ExecutorKillPlugin.CONTROL, control.toString())
                    .getOrCreate();
        } finally {
            restore("spark.testing", testing);
            restore("spark.test.home", testHome);
        }
    }

    private static void restore(String key, String value) {
        if (value == null) {
            System.clearProperty(key);
        } else {
            System.setProperty(key, value);
        }
    }
}
