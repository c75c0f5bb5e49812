package io.longnet.tensors;

import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Bytes read at absolute positions, with no shared file pointer: what {@link SafetensorsFile} reads from.
 * A local file is one ({@link #of(Path)}); so is a Hadoop {@code FSDataInputStream} (io.longnet.storage
 * adapts it), which keeps this package free of Hadoop.
 */
public interface PositionalInput extends Closeable {

    /** Total length in bytes. */
    long length() throws IOException;

    /**
     * Reads exactly {@code length} bytes at {@code position} into {@code dst[offset...]}.
     *
     * @throws EOFException when the input ends first
     */
    void readFully(long position, byte[] dst, int offset, int length) throws IOException;

    /**
     * Reads exactly {@code dst.remaining()} bytes at {@code position} into {@code dst}, advancing its
     * position. Inputs that can read into direct buffers without a copy on the heap (a local file, HDFS)
     * override it; this default goes through a heap array.
     *
     * @throws EOFException when the input ends first
     */
    default void readFully(long position, ByteBuffer dst) throws IOException {
        if (dst.hasArray()) {
            readFully(position, dst.array(), dst.arrayOffset() + dst.position(), dst.remaining());
            dst.position(dst.limit());
            return;
        }
        byte[] bytes = new byte[dst.remaining()];
        readFully(position, bytes, 0, bytes.length);
        dst.put(bytes);
    }

    /** A local file, opened for reading until {@link #close}. */
    static PositionalInput of(Path file) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
        return new PositionalInput() {
            @Override
            public long length() throws IOException {
                return ch.size();
            }

            @Override
            public void readFully(long position, byte[] dst, int offset, int length) throws IOException {
                readFully(position, ByteBuffer.wrap(dst, offset, length));
            }

            @Override
            public void readFully(long position, ByteBuffer b) throws IOException {
                long pos = position;
                while (b.hasRemaining()) {
                    int r = ch.read(b, pos);
                    if (r < 0) {
                        throw new EOFException("unexpected end of file " + file + " at byte " + pos);
                    }
                    pos += r;
                }
            }

            @Override
            public void close() throws IOException {
                ch.close();
            }
        };
    }
}
