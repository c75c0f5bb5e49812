package io.longnet.jobs;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.spark.executor.TaskMetrics;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerStageCompleted;
import org.apache.spark.scheduler.SparkListenerStageSubmitted;
import org.apache.spark.scheduler.StageInfo;
import org.apache.spark.scheduler.SparkListenerTaskEnd;

/**
 * Follows the tasks of the stages named {@code stageName}: prints progress (partitions done, tokens/s)
 * as they finish, and keeps each task's shuffle read bytes for the job's summary. Of every stage it keeps
 * the wall time and its tasks' totals (run time, GC, shuffle, spill): the summary's breakdown by stage.
 */
final class StageMetrics extends SparkListener {

    private final String stageName;
    private final int partitions;
    private final long tokens;
    private final PrintStream out;
    private final long startNanos = System.nanoTime();
    private final Map<Integer, Boolean> watched = new ConcurrentHashMap<>();
    private final Map<Long, Long> shuffleReadByTask = new ConcurrentHashMap<>();
    private final Map<Long, Long> blocksByTask = new ConcurrentHashMap<>();
    private int done;
    private int lastPrintedPercent = -1;

    /** Only the per-stage totals ({@link #stageLines}), no progress. */
    StageMetrics() {
        this(null, 1, 0, null);
    }

    StageMetrics(String stageName, int partitions, long tokens, PrintStream out) {
        this.stageName = stageName;
        this.partitions = partitions;
        this.tokens = tokens;
        this.out = out;
    }

    @Override
    public void onStageSubmitted(SparkListenerStageSubmitted event) {
        if (stageName != null && event.stageInfo().name().startsWith(stageName)) {
            watched.put(event.stageInfo().stageId(), true);
        }
    }

    /** One stage's totals over its successful tasks; times in milliseconds. */
    private static final class StageTotals {
        String name = "";
        int tasks;
        long wallMs = -1;
        long runMs;
        long gcMs;
        long shuffleRead;
        long blocks;
        long shuffleWrite;
        long spilled;
    }

    private final Map<Integer, StageTotals> stages = new TreeMap<>();

    @Override
    public synchronized void onStageCompleted(SparkListenerStageCompleted event) {
        StageInfo info = event.stageInfo();
        StageTotals t = stages.computeIfAbsent(info.stageId(), id -> new StageTotals());
        t.name = info.name();
        if (info.submissionTime().isDefined() && info.completionTime().isDefined()) {
            t.wallMs = (Long) info.completionTime().get() - (Long) info.submissionTime().get();
        }
    }

    @Override
    public synchronized void onTaskEnd(SparkListenerTaskEnd event) {
        if (!event.taskInfo().successful()) {
            return;
        }
        TaskMetrics m = event.taskMetrics();
        if (m != null) {
            StageTotals t = stages.computeIfAbsent(event.stageId(), id -> new StageTotals());
            t.tasks++;
            t.runMs += m.executorRunTime();
            t.gcMs += m.jvmGCTime();
            t.shuffleRead += m.shuffleReadMetrics().totalBytesRead();
            t.blocks += blocks(m);
            t.shuffleWrite += m.shuffleWriteMetrics().bytesWritten();
            t.spilled += m.diskBytesSpilled();
        }
        if (!watched.containsKey(event.stageId())) {
            return;
        }
        if (event.taskMetrics() != null) {
            shuffleReadByTask.put(event.taskInfo().taskId(), event.taskMetrics().shuffleReadMetrics().totalBytesRead());
            blocksByTask.put(event.taskInfo().taskId(), blocks(event.taskMetrics()));
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

    /**
     * One line per completed stage, in order: "stage 3 attend: 1.20 s wall, 8 tasks, task time 9.10 s
     * (GC 0.20 s), shuffle read 10 MB, write 0 MB, spilled 0 MB".
     */
    synchronized List<String> stageLines() {
        List<String> lines = new ArrayList<>();
        stages.forEach((id, t) -> lines.add(String.format(Locale.ROOT,
                "stage %d %s: %.2f s wall, %d tasks, task time %.2f s (GC %.2f s), shuffle read %.1f MB,"
                        + " write %.1f MB, spilled %.1f MB", id, t.name.split(" at ")[0], t.wallMs / 1e3, t.tasks,
                t.runMs / 1e3, t.gcMs / 1e3, t.shuffleRead / 1e6, t.shuffleWrite / 1e6, t.spilled / 1e6)));
        return lines;
    }

    /** Shuffle blocks a task fetched, local and remote. */
    private static long blocks(TaskMetrics m) {
        return m.shuffleReadMetrics().localBlocksFetched() + m.shuffleReadMetrics().remoteBlocksFetched();
    }

    /** Shuffle blocks fetched by the successful tasks of every stage seen: all the job's exchanges together. */
    synchronized long totalBlocks() {
        return stages.values().stream().mapToLong(t -> t.blocks).sum();
    }

    /** Most shuffle blocks one task of the followed stage fetched. */
    long maxBlocks() {
        return blocksByTask.values().stream().mapToLong(Long::longValue).max().orElse(0);
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
