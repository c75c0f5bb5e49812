package io.longnet.datasets;

import java.io.Serializable;

/**
 * One document of a corpus, as {@link CorpusReader} reads it.
 *
 * @param path     the file it comes from (a qualified URI)
 * @param line     its line number, from 1, in {@link DocumentMode#LINE}; 0 in {@link DocumentMode#FILE}
 * @param text     its text, invalid UTF-8 replaced by U+FFFD; never blank
 * @param replaced how many invalid UTF-8 sequences were replaced in it
 */
public record Document(String path, long line, String text, int replaced) implements Serializable {
}
