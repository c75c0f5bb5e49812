package io.longnet.storage;

import java.io.IOException;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Bytes {@code [position, position + size)} of a local file mapped into memory, little-endian, and unmapped
 * on close. Tasks read a partition's rows and write its results through such regions: the page cache is
 * the buffer, so GBs of rows are neither copied onto the heap nor converted there, and a device copies
 * from and into them directly. Unmapping at close rather than at a garbage collection keeps a task's
 * gigabytes of mappings from outliving it (the cleaner is the one {@code sun.misc.Unsafe} exposes for this).
 */
public final class MappedRegion implements AutoCloseable {

    private static final sun.misc.Unsafe UNSAFE = unsafe();

    private final MappedByteBuffer buffer;
    private boolean closed;

    private MappedRegion(MappedByteBuffer buffer) {
        this.buffer = buffer;
    }

    /** Maps the region for reading. */
    public static MappedRegion read(Path file, long position, long size) throws IOException {
        return map(file, FileChannel.MapMode.READ_ONLY, position, size, StandardOpenOption.READ);
    }

    /** Maps the region of an existing file for reading and writing (the file is not created or extended). */
    public static MappedRegion write(Path file, long position, long size) throws IOException {
        return map(file, FileChannel.MapMode.READ_WRITE, position, size, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
    }

    private static MappedRegion map(Path file, FileChannel.MapMode mode, long position, long size,
                                    StandardOpenOption... options) throws IOException {
        if (size < 0 || size > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("a mapped region holds 0 to " + Integer.MAX_VALUE + " bytes (asked "
                    + size + ")");
        }
        // The mapping stays valid after the channel is closed.
        try (FileChannel ch = FileChannel.open(file, options)) {
            if (position + size > ch.size()) {
                throw new IOException("file " + file + " holds " + ch.size() + " bytes, cannot map bytes ["
                        + position + ", " + (position + size) + ")");
            }
            MappedByteBuffer b = ch.map(mode, position, size);
            b.order(ByteOrder.LITTLE_ENDIAN);
            return new MappedRegion(b);
        }
    }

    /** The mapped bytes, little-endian; invalid after {@link #close}. */
    public ByteBuffer bytes() {
        if (closed) {
            throw new IllegalStateException("region already unmapped");
        }
        return buffer.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            UNSAFE.invokeCleaner(buffer);
        }
    }

    private static sun.misc.Unsafe unsafe() {
        try {
            Field f = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            return (sun.misc.Unsafe) f.get(null);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
}
