package io.longnet.jobs;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.apache.spark.TaskContext;
import org.apache.spark.api.plugin.DriverPlugin;
import org.apache.spark.api.plugin.ExecutorPlugin;
import org.apache.spark.api.plugin.PluginContext;
import org.apache.spark.api.plugin.SparkPlugin;

/**
 * Test-only: ends the JVM of the executor that runs the K-th task of a job, at a chosen moment of that task,
 * as {@code kill -9} would (no shutdown hooks, no goodbye to the driver): deterministic, unlike a kill timed
 * from outside. Tasks are counted across the executors through files in {@link #CONTROL} (each task start
 * claims the next {@code tick-N} by creating it); the file {@code plan} says what to do:
 * {@code count} (only count), {@code start K} (die as the K-th task starts: before it has done anything) or
 * {@code success K} (die when the K-th task has done all its work, written its output included, before the
 * driver hears of it: its retry finds what it wrote). Before dying it writes {@code killed}, which the test
 * asserts, so that a kill that never happened cannot pass for one that was survived.
 */
public final class ExecutorKillPlugin implements SparkPlugin {

    /** The Spark conf key naming the control folder. */
    static final String CONTROL = "spark.longnet.test.killControl";

    @Override
    public DriverPlugin driverPlugin() {
        return null;
    }

    @Override
    public ExecutorPlugin executorPlugin() {
        return new ExecutorPlugin() {
            private Path control;
            /** Whether the task of this thread is the one to end the JVM after (set at each task's start). */
            private final ThreadLocal<String> victim = new ThreadLocal<>();

            @Override
            public void init(PluginContext ctx, Map<String, String> extraConf) {
                control = Path.of(ctx.conf().get(CONTROL));
            }

            @Override
            public void onTaskStart() {
                victim.remove();
                try {
                    String[] plan = Files.readString(control.resolve("plan"), StandardCharsets.UTF_8).strip().split(" ");
                    int tick = 1;
                    while (true) {
                        try {
                            Files.createFile(control.resolve("tick-" + tick));
                            break;
                        } catch (java.nio.file.FileAlreadyExistsException taken) {
                            tick++;
                        }
                    }
                    if (plan.length == 2 && Integer.parseInt(plan[1]) == tick) {
                        TaskContext task = TaskContext.get();
                        String what = "task " + tick + " (stage " + task.stageId() + ", partition " + task.partitionId()
                                + ", attempt " + task.attemptNumber() + ") at its " + plan[0];
                        if (plan[0].equals("start")) {
                            die(what);
                        }
                        victim.set(what); // TaskContext is gone by onTaskSucceeded: the same thread runs both
                    }
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            }

            @Override
            public void onTaskSucceeded() {
                String what = victim.get();
                if (what != null) {
                    die(what);
                }
            }

            private void die(String what) {
                try {
                    Files.writeString(control.resolve("killed"), "executor JVM " + ProcessHandle.current().pid()
                            + " ended at " + what);
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
                Runtime.getRuntime().halt(137);
            }
        };
    }
}
