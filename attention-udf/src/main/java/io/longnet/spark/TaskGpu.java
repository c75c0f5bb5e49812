package io.longnet.spark;

import io.longnet.attention.Backend;
import io.longnet.attention.BackendProvider;
import io.longnet.model.ModelDecoderProvider;
import org.apache.spark.SparkContext;
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

    /**
     * Whether tasks of {@code sc} will run the model on a GPU under {@code backend}, as the driver can tell:
     * for {@code gpu} always (on a local master, where the tasks run in this process, {@code gpu} fails
     * here, before any job, when this process cannot use device 0); for {@code auto} when tasks are
     * assigned GPUs ({@code spark.task.resource.gpu.amount}) or, on a local master, when device 0 is usable.
     */
    static boolean planned(SparkContext sc, Backend backend) {
        return planned(sc, backend, ModelDecoderProvider.class, "decoder");
    }

    /** As {@link #planned(SparkContext, Backend)} for tasks that use a provider of {@code type} ({@code what}). */
    static boolean planned(SparkContext sc, Backend backend, Class<? extends BackendProvider> type, String what) {
        boolean assigned = sc.conf().contains("spark.task.resource." + RESOURCE + ".amount");
        return switch (backend) {
            case CPU -> false;
            case GPU -> assigned || !sc.isLocal()
                    || backend.usableGpu(type, 0, what).isPresent();
            case AUTO -> assigned || sc.isLocal() && backend.usableGpu(type, 0, what).isPresent();
        };
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
