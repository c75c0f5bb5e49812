package io.longnet.attention;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;

/**
 * One branch of dilated attention: segments of {@code segmentLength} (w) positions, of which every
 * {@code dilation}-th (r) row takes part. Validation lives in {@link DilatedAttentionConfig}.
 */
public record Branch(int segmentLength, int dilation) implements Serializable {

    /** Parses {@code "w:r"}, e.g. {@code "16384:6"}. */
    public static Branch parse(String text) {
        String t = text.trim();
        int colon = t.indexOf(':');
        if (colon < 0 || colon != t.lastIndexOf(':')) {
            throw new IllegalArgumentException(
                    "branch '" + text + "': expected segment:dilation, e.g. 2048:1");
        }
        return new Branch(number(text, t.substring(0, colon).trim()), number(text, t.substring(colon + 1).trim()));
    }

    /** One of the two numbers of branch {@code text}: a whole number that fits an int. */
    private static int number(String text, String digits) {
        try {
            return Integer.parseInt(digits);
        } catch (NumberFormatException e) {
            if (digits.matches("\\+?[0-9]+")) {
                throw new IllegalArgumentException("branch '" + text + "': " + digits + " is too large (at most "
                        + Integer.MAX_VALUE + ")");
            }
            if (digits.matches("-[0-9]+")) {
                throw new IllegalArgumentException("branch '" + text + "': " + digits + ": segment and dilation"
                        + " must be >= 1");
            }
            throw new IllegalArgumentException(
                    "branch '" + text + "': segment and dilation must be whole numbers, e.g. 2048:1");
        }
    }

    /** Parses a comma-separated list, e.g. {@code "2048:1,4096:2,8192:4"}. */
    public static List<Branch> parseList(String text) {
        List<Branch> branches = new ArrayList<>();
        for (String part : text.split(",", -1)) {
            if (part.isBlank()) {
                throw new IllegalArgumentException(
                        "branches '" + text + "': empty entry; expected e.g. 2048:1,4096:2");
            }
            branches.add(parse(part));
        }
        return branches;
    }

    /**
     * Number of rows this branch selects for a head with offset {@code offset} in a segment of
     * {@code segLen} positions (the last segment of a sequence may be short).
     */
    public int selectedRows(int segLen, int offset) {
        return offset < segLen ? (segLen - offset + dilation - 1) / dilation : 0;
    }

    /** Number of segments covering {@code n} positions (the last one may be short). */
    public long segments(long n) {
        return (n + segmentLength - 1) / segmentLength;
    }

    @Override
    public String toString() {
        return segmentLength + ":" + dilation;
    }
}
