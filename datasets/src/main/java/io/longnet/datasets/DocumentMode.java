package io.longnet.datasets;

import java.util.Locale;

/** Where one document of a text corpus ends. */
public enum DocumentMode {
    /** Each file is one document, its text whole (newlines included). */
    FILE,
    /** Each line is one document: lines end at {@code \n}, a trailing {@code \r} is dropped. */
    LINE;

    /** {@code file} or {@code line}, any case. */
    public static DocumentMode parse(String name) {
        try {
            return valueOf(name.strip().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("document mode '" + name + "': expected 'file' or 'line'", e);
        }
    }
}
