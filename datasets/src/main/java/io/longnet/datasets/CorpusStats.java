package io.longnet.datasets;

import java.io.Serializable;

/**
 * What reading a corpus found. Counted by Spark accumulators as tasks run, so the values are final once
 * the documents have been read exactly once (a task retried after a failure may count twice).
 *
 * @param files                files read
 * @param bytes                bytes of text read (after gzip decompression)
 * @param documents            documents kept (not blank)
 * @param emptyDocuments       documents skipped because their text is empty or only white space
 * @param invalidUtf8Documents documents, kept or skipped, in which invalid UTF-8 was replaced
 * @param replacedSequences    invalid UTF-8 sequences replaced by U+FFFD, in all documents
 * @param binaryFiles          files skipped as binary (not counted in {@code files})
 */
public record CorpusStats(long files, long bytes, long documents, long emptyDocuments, long invalidUtf8Documents,
                          long replacedSequences, long binaryFiles) implements Serializable {

    @Override
    public String toString() {
        return files + " files, " + bytes + " bytes, " + documents + " documents (" + emptyDocuments + " empty"
                + " skipped, " + invalidUtf8Documents + " with invalid UTF-8: " + replacedSequences
                + " sequences replaced by U+FFFD)" + (binaryFiles > 0 ? ", " + binaryFiles + " binary files skipped" : "");
    }
}
