package io.longnet.spark;

import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;
import org.apache.spark.resource.ResourceInformation;

/**
 * The GPU Spark's resource scheduler assigned to a task ({@code spark.task.resource.gpu.amount} with a
 * discovery script, see bin/discover-gpus.sh), as a device ordinal for the backend; -1 when none.
 * On the embedded local master, where the driver is the only executor and no GPU is assigned, device 0
 * (the backend still checks that it exists).
 */
final class TaskGpu {

    static final String RESOURCE = "gpu";

    private TaskGpu() {
    }

    static int ordinal(TaskContext task) {
        if (task != null) {
            ResourceInformation gpu = task.resources().get(RESOURCE).getOrElse(() -> null);
            if (gpu != null && gpu.addresses().length > 0) {
                try {
                    return Integer.parseInt(gpu.addresses()[0].trim());
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("GPU address '" + gpu.addresses()[0]
                            + "' from the discovery script is not a device ordinal");
                }
            }
        }
        SparkEnv env = SparkEnv.get();
        boolean local = env != null && SparkContextIds.DRIVER.equals(env.executorId());
        return local ? 0 : -1;
    }

    /** Spark's executor id of the driver (local mode runs tasks there). */
    private static final class SparkContextIds {
        static final String DRIVER = "driver";
    }
}
