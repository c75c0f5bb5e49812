package io.longnet.jobs;

import java.io.PrintStream;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerStageSubmitted;
import org.apache.spark.scheduler.SparkListenerTaskEnd;

/**
 * Follows the tasks of the stages named {@code stageName}: prints progress (partitions done, tokens/s)
 * as they finish, and keeps each task's shuffle read bytes for the job's summary.
 */
final class StageMetrics extends SparkListener {

    private final String stageName;
    private final int partitions;
    private final long tokens;
    private final PrintStream out;
    private final long startNanos = System.nanoTime();
    private final Map<Integer, Boolean> watched = new ConcurrentHashMap<>();
    private final Map<Long, Long> shuffleReadByTask = new ConcurrentHashMap<>();
    private int done;
    private int lastPrintedPercent = -1;

    StageMetrics(String stageName, int partitions, long tokens, PrintStream out) {
        this.stageName = stageName;
        this.partitions = partitions;
        this.tokens = tokens;
        this.out = out;
    }

    @Override
    public void onStageSubmitted(SparkListenerStageSubmitted event) {
        if (event.stageInfo().name().startsWith(stageName)) {
            watched.put(event.stageInfo().stageId(), true);
        }
    }

    @Override
    public synchronized void onTaskEnd(SparkListenerTaskEnd event) {
        if (!watched.containsKey(event.stageId()) || !event.taskInfo().successful()) {
            return;
        }
        if (event.taskMetrics() != null) {
            shuffleReadByTask.put(event.taskInfo().taskId(), event.taskMetrics().shuffleReadMetrics().totalBytesRead());
        }
        done++;
        int percent = (int) (100L * done / partitions);
        if (percent / 10 != lastPrintedPercent / 10 || done == partitions) {
            lastPrintedPercent = percent;
            double seconds = (System.nanoTime() - startNanos) / 1e9;
            out.printf(Locale.ROOT, "%s: %d/%d partitions, %.0f tokens/s so far%n", stageName, done, partitions,
                    tokens * (double) done / partitions / seconds);
        }
    }

    /** Largest shuffle read of one task, bytes. */
    long maxShuffleRead() {
        return shuffleReadByTask.values().stream().mapToLong(Long::longValue).max().orElse(0);
    }

    /** Mean shuffle read per task, bytes. */
    double meanShuffleRead() {
        return shuffleReadByTask.values().stream().mapToLong(Long::longValue).average().orElse(0);
    }
}
