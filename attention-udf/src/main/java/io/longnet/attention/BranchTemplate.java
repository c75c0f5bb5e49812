package io.longnet.attention;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Branches whose segment lengths and dilations may be written in terms of the partition length {@code L} and
 * the sequence length {@code N}, e.g. the paper's scaling configuration {@code 2048:1,L:L/2048,N:N/2048}
 * (a local branch, one as long as a partition, one as long as the sequence, each keeping 2048 rows per
 * sparsified segment). Each number is a whole number, {@code L}, {@code N}, {@code L/k} or {@code N/k}
 * ({@code k} whole, the quotient rounded down). Branches that resolve to the same pair are kept once.
 */
public record BranchTemplate(String text) implements Serializable {

    /** The paper's scaling configuration. */
    public static final String SCALING = "2048:1,L:L/2048,N:N/2048";

    private static final Pattern TERM = Pattern.compile("(\\d+)|([LN])(?:/(\\d+))?");

    public BranchTemplate {
        for (String branch : text.split(",", -1)) {
            String[] pair = branch.strip().split(":", -1);
            if (pair.length != 2 || !TERM.matcher(pair[0].strip()).matches() || !TERM.matcher(pair[1].strip()).matches()) {
                throw new IllegalArgumentException("branch '" + branch.strip() + "': expected segment:dilation, each a"
                        + " whole number, L, N, L/k or N/k, e.g. " + SCALING);
            }
        }
    }

    /** Whether the template names L or N (a plain branch list does not). */
    public boolean symbolic() {
        return text.contains("L") || text.contains("N");
    }

    /** The branches for partition length {@code partitionLength} and sequence length {@code n}. */
    public List<Branch> resolve(long partitionLength, long n) {
        Set<Branch> out = new LinkedHashSet<>();
        for (String branch : text.split(",")) {
            String[] pair = branch.strip().split(":");
            out.add(new Branch(term(branch, pair[0], partitionLength, n), term(branch, pair[1], partitionLength, n)));
        }
        return new ArrayList<>(out);
    }

    private static int term(String branch, String text, long partitionLength, long n) {
        Matcher m = TERM.matcher(text.strip());
        if (!m.matches()) {
            throw new IllegalStateException(text);
        }
        long value;
        if (m.group(1) != null) {
            value = Long.parseLong(m.group(1));
        } else {
            value = m.group(2).equals("L") ? partitionLength : n;
            if (m.group(3) != null) {
                value /= Long.parseLong(m.group(3));
            }
        }
        if (value < 1 || value > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("branch '" + branch.strip() + "' with L = " + partitionLength + ", N = "
                    + n + " gives " + text.strip() + " = " + value + ": each must be 1 to " + Integer.MAX_VALUE
                    + " (choose L and N of at least the divisors written)");
        }
        return (int) value;
    }
}
