package io.longnet.storage;

import java.io.IOException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;

/** The file system to write user-facing files with, shared by every writer. */
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

    /** {@link #withoutChecksums} of {@code path}'s file system (cached by Hadoop: never close it). */
    public static FileSystem writable(Path path, Configuration conf) throws IOException {
        return withoutChecksums(path.getFileSystem(conf));
    }
}
