package io.longnet.storage;

import io.longnet.tensors.PositionalInput;
import io.longnet.tensors.SafetensorsFile;
import io.longnet.tensors.SafetensorsWriter;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileAlreadyExistsException;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.StreamCapabilities;

/**
 * Safetensors files on any Hadoop file system ({@code file:}, {@code hdfs://}): the one reader and writer
 * of io.longnet.tensors over a Hadoop stream (an {@link FSDataInputStream} reads at absolute positions).
 */
public final class HadoopSafetensors {

    private HadoopSafetensors() {
    }

    /**
     * Opens and validates a safetensors file.
     *
     * @param uri  a path or URI ({@code file:/...}, {@code hdfs://...}); messages name it as given
     * @param conf Hadoop configuration used to find the file system
     */
    public static SafetensorsFile open(String uri, Configuration conf) throws IOException {
        Path path = new Path(uri);
        // FileSystem instances are cached and shared within the JVM: close the stream, never the fs.
        FileSystem fs = path.getFileSystem(conf);
        long length = fs.getFileStatus(path).getLen(); // a missing file: Hadoop's message, naming the path
        if (HadoopFiles.withoutChecksums(fs) instanceof RawLocalFileSystem local) {
            // Local files through a FileChannel: positioned reads straight into direct buffers.
            return SafetensorsFile.open(uri, PositionalInput.of(local.pathToFile(path).toPath()));
        }
        FSDataInputStream in = fs.open(path);
        // HDFS (and other streams that say so) read at a position straight into direct buffers.
        boolean byteBuffers = in.hasCapability(StreamCapabilities.PREADBYTEBUFFER);
        return SafetensorsFile.open(uri, new PositionalInput() {
            @Override
            public long length() {
                return length;
            }

            @Override
            public void readFully(long position, byte[] dst, int offset, int n) throws IOException {
                in.readFully(position, dst, offset, n);
            }

            @Override
            public void readFully(long position, ByteBuffer dst) throws IOException {
                if (byteBuffers) {
                    in.readFully(position, dst);
                } else {
                    PositionalInput.super.readFully(position, dst);
                }
            }

            @Override
            public void close() throws IOException {
                in.close();
            }
        });
    }

    /** As {@link #create(String, Configuration, List, Map, boolean)}, failing if the file exists. */
    public static SafetensorsWriter create(String uri, Configuration conf, List<SafetensorsWriter.Spec> specs,
                                           Map<String, String> metadata) throws IOException {
        return create(uri, conf, specs, metadata, false);
    }

    /**
     * Creates the file and writes its header (no {@code .crc} side file on local paths).
     *
     * @param overwrite replace an existing file; otherwise an existing file is an error
     * @throws FileAlreadyExistsException when the file exists and {@code overwrite} is false
     * @throws IllegalArgumentException   for duplicate or reserved names, or sizes beyond a long
     */
    public static SafetensorsWriter create(String uri, Configuration conf, List<SafetensorsWriter.Spec> specs,
                                           Map<String, String> metadata, boolean overwrite) throws IOException {
        Path path = new Path(uri);
        FileSystem fs = HadoopFiles.writable(path, conf);
        return SafetensorsWriter.create(uri, new SafetensorsWriter.Target() {
            @Override
            public OutputStream open() throws IOException {
                if (!overwrite && fs.exists(path)) {
                    throw new FileAlreadyExistsException("file " + uri + " already exists (overwrite it explicitly)");
                }
                return fs.create(path, overwrite);
            }

            @Override
            public void discard() throws IOException {
                fs.delete(path, false);
            }
        }, specs, metadata);
    }
}
