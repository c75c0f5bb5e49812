package io.longnet.storage;

import java.io.IOException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;

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

    /**
     * {@code path} as a file of this machine when {@code fs} is the local file system (what tasks can map or
     * write at offsets), or null (HDFS and other remote stores).
     */
    public static java.nio.file.Path localFile(Path path, FileSystem fs) {
        return withoutChecksums(fs) instanceof RawLocalFileSystem raw ? raw.pathToFile(path).toPath() : null;
    }

    /** {@link #withoutChecksums} of {@code path}'s file system (cached by Hadoop: never close it). */
    public static FileSystem writable(Path path, Configuration conf) throws IOException {
        return withoutChecksums(path.getFileSystem(conf));
    }
}
