package io.longnet.spark;

import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.spark.SparkContext;
import org.apache.spark.util.LongAccumulator;

/**
 * Time the tasks of a job spent in each of its phases (reading, exchanging, the kernel, writing, ...),
 * summed over tasks, through one Spark accumulator per phase: where a job's time goes, for its summary.
 * Retried task attempts count twice; the figures are for reading, never for results.
 */
public final class PhaseTimes implements Serializable {

    /** Times nothing: for callers that do not ask. */
    public static final PhaseTimes NONE = new PhaseTimes(Map.of());

    private final Map<String, LongAccumulator> nanos;

    private PhaseTimes(Map<String, LongAccumulator> nanos) {
        this.nanos = nanos;
    }

    /** One accumulator per phase, registered on {@code sc}, reported in the order given. */
    public static PhaseTimes register(SparkContext sc, List<String> phases) {
        Map<String, LongAccumulator> nanos = new LinkedHashMap<>();
        for (String phase : phases) {
            nanos.put(phase, sc.longAccumulator("time in " + phase + " (ns)"));
        }
        return new PhaseTimes(nanos);
    }

    /** Adds the time since {@code startNanos} ({@link System#nanoTime}) to {@code phase}; returns now. */
    public long since(String phase, long startNanos) {
        long now = System.nanoTime();
        if (nanos.isEmpty()) {
            return now;
        }
        add(phase, now - startNanos);
        return now;
    }

    /** Adds {@code elapsed} nanoseconds, which a callee measured, to {@code phase}. */
    public void add(String phase, long elapsed) {
        if (nanos.isEmpty()) {
            return;
        }
        LongAccumulator acc = nanos.get(phase);
        if (acc == null) {
            throw new IllegalArgumentException("no phase '" + phase + "' (phases: " + nanos.keySet() + ")");
        }
        acc.add(elapsed);
    }

    /** Seconds summed over tasks, per phase, in order. */
    public Map<String, Double> seconds() {
        Map<String, Double> out = new LinkedHashMap<>();
        nanos.forEach((phase, acc) -> out.put(phase, acc.value() / 1e9));
        return out;
    }

    /** "read 1.20 s, kernel 3.40 s, ..." (task seconds). */
    public String describe() {
        StringBuilder s = new StringBuilder();
        seconds().forEach((phase, sec) -> s.append(s.length() == 0 ? "" : ", ")
                .append(String.format(Locale.ROOT, "%s %.2f s", phase, sec)));
        return s.toString();
    }
}
