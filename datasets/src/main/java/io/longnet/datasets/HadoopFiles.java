package io.longnet.datasets;

import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocalFileSystem;

/** Small Hadoop FileSystem helpers shared by the writers. */
public final class HadoopFiles {

    private HadoopFiles() {
    }

    /**
     * The file system to write user-facing files with: for local paths the raw one, so that no
     * {@code .crc} side files appear next to the output (HDFS keeps its checksums internally).
     */
    public static FileSystem withoutChecksums(FileSystem fs) {
        return fs instanceof LocalFileSystem local ? local.getRaw() : fs;
    }
}
