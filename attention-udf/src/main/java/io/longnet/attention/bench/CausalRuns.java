package io.longnet.attention.bench;

import java.util.List;
import java.util.Locale;

/** {@code --causal both|true|false} of the attention benchmarks: which masks each size runs with. */
public enum CausalRuns {
    BOTH(false, true), TRUE(true), FALSE(false);

    private final List<Boolean> flags;

    CausalRuns(Boolean... flags) {
        this.flags = List.of(flags);
    }

    /** {@code both}, {@code true} or {@code false}, any case. */
    public static CausalRuns parse(String name) {
        for (CausalRuns c : values()) {
            if (c.toString().equalsIgnoreCase(name == null ? "" : name.strip())) {
                return c;
            }
        }
        throw new IllegalArgumentException("--causal takes both, true or false (got '" + name + "')");
    }

    /** The causal flags to run, non-causal first. */
    public List<Boolean> flags() {
        return flags;
    }

    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
