package io.longnet.spark.training;

import org.apache.spark.TaskContext;

/**
 * The threads a training task computes on: the cores Spark gave it ({@code spark.task.cpus}, default 1), which
 * reach the engine as a plain number (docs/ARCHITECTURE.md §7).
 */
final class TaskCpus {

    private TaskCpus() {
    }

    /** The running task's {@code spark.task.cpus}; outside a task (on the driver), the machine's cores. */
    static int threads() {
        TaskContext task = TaskContext.get();
        return task == null ? Runtime.getRuntime().availableProcessors() : task.cpus();
    }
}
