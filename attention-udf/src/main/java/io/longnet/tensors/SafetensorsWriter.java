package io.longnet.tensors;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Writes a safetensors file as a stream: the project's one writer. The header is written on
 * {@link #create} (tensor offsets follow from the specs, in the order given), then the tensors' values
 * are appended with {@link #writeFloats} or {@link #writeDoubles}, converted to each tensor's dtype,
 * filling one tensor after the other. Nothing but one chunk buffer is held in memory, so the file may be
 * far larger than the heap. It writes into a {@link Target}: a local file ({@link #create(Path, List, Map)})
 * or, through io.longnet.storage, a file of any Hadoop file system.
 *
 * <p>{@link #close} checks that every tensor was written in full; if not, it discards the file (it
 * would otherwise be a truncated file) and throws {@link TensorFormatException}.
 */
public final class SafetensorsWriter implements AutoCloseable {

    /** Where the bytes go: opened once the header is known to be valid, discarded when incomplete. */
    public interface Target {
        OutputStream open() throws IOException;

        /** Removes what {@link #open} began, after the stream is closed. */
        void discard() throws IOException;
    }

    /** What the writer needs to know of a tensor before its data: name, dtype and shape. */
    public record Spec(String name, DType dtype, long[] shape) {

        public Spec {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(dtype, "dtype");
            shape = shape.clone();
            for (long d : shape) {
                if (d < 0) {
                    throw new IllegalArgumentException("tensor '" + name + "': shape " + Arrays.toString(shape)
                            + " has a negative dimension");
                }
            }
        }

        public static Spec of(String name, DType dtype, long... shape) {
            return new Spec(name, dtype, shape);
        }

        /** A copy of the shape. */
        @Override
        public long[] shape() {
            return shape.clone();
        }

        // The generated members would compare and print the array by identity.
        @Override
        public boolean equals(Object o) {
            return o instanceof Spec s && name.equals(s.name) && dtype == s.dtype && Arrays.equals(shape, s.shape);
        }

        @Override
        public int hashCode() {
            return Objects.hash(name, dtype, Arrays.hashCode(shape));
        }

        @Override
        public String toString() {
            return name + ": " + dtype + " " + Arrays.toString(shape);
        }
    }

    private static final int CHUNK_BYTES = 1 << 20;

    private final String file;
    private final Target target;
    private final OutputStream out;
    private final TensorInfo[] tensors;
    private final long totalElements;
    private final byte[] buf;
    private int current;          // index of the tensor being filled
    private long writtenInCurrent;
    private long written;         // elements written over all tensors
    private boolean closed;

    private SafetensorsWriter(String file, Target target, OutputStream out,
                              TensorInfo[] tensors, long totalElements, long totalBytes) {
        this.file = file;
        this.target = target;
        this.out = out;
        this.tensors = tensors;
        this.totalElements = totalElements;
        // Never below 8 bytes, so that one element of any dtype fits.
        this.buf = new byte[(int) Math.max(8, Math.min(CHUNK_BYTES, totalBytes))];
    }

    /** Creates (or replaces) the local file {@code file} and writes its header; see {@link #create(String, Target, List, Map)}. */
    public static SafetensorsWriter create(Path file, List<Spec> specs, Map<String, String> metadata)
            throws IOException {
        return create(file.toString(), new Target() {
            @Override
            public OutputStream open() throws IOException {
                return Files.newOutputStream(file);
            }

            @Override
            public void discard() throws IOException {
                Files.deleteIfExists(file);
            }
        }, specs, metadata);
    }

    /**
     * A file's header and where its tensors lie, known before any data: what {@link #create} writes first,
     * and what writers that fill a preallocated file at positions (one task per range of rows) need.
     *
     * @param header  the bytes before the data buffer: the 8-byte length, the JSON, its padding
     * @param tensors the tensors in file order, offsets relative to the data buffer
     */
    public record Layout(byte[] header, List<TensorInfo> tensors) {

        public Layout {
            header = header.clone();
            tensors = List.copyOf(tensors);
        }

        /** A copy of the header bytes. */
        @Override
        public byte[] header() {
            return header.clone();
        }

        /** Byte offset of the data buffer in the file. */
        public long dataStart() {
            return header.length;
        }

        /** The complete file's length in bytes. */
        public long fileLength() {
            return dataStart() + (tensors.isEmpty() ? 0 : tensors.get(tensors.size() - 1).end());
        }

        /** The tensor of that name. */
        public TensorInfo tensor(String name) {
            for (TensorInfo t : tensors) {
                if (t.name().equals(name)) {
                    return t;
                }
            }
            throw new IllegalArgumentException("no tensor '" + name + "' in this layout");
        }
    }

    /**
     * The header and offsets of a file of {@code specs} and {@code metadata}, as {@link #create} writes them.
     *
     * @param uri names the file in messages
     * @throws IllegalArgumentException for duplicate or reserved names, or sizes beyond a long
     */
    public static Layout layout(String uri, List<Spec> specs, Map<String, String> metadata) {
        ObjectNode header = StrictJson.object();
        if (!metadata.isEmpty()) {
            // The reference implementation writes __metadata__ first.
            for (Map.Entry<String, String> m : metadata.entrySet()) {
                if (m.getKey() == null || m.getValue() == null) {
                    throw new IllegalArgumentException("file " + uri + ": metadata keys and values must not be null");
                }
            }
            ObjectNode m = header.putObject(SafetensorsFile.METADATA_KEY);
            metadata.forEach(m::put);
        }
        TensorInfo[] tensors = new TensorInfo[specs.size()];
        long offset = 0;
        for (int i = 0; i < tensors.length; i++) {
            Spec s = specs.get(i);
            if (s.name().equals(SafetensorsFile.METADATA_KEY) || header.has(s.name())) {
                throw new IllegalArgumentException("file " + uri + ": tensor name '" + s.name() + "' is "
                        + (s.name().equals(SafetensorsFile.METADATA_KEY) ? "reserved" : "given twice"));
            }
            long end;
            try {
                end = Math.addExact(offset, Math.multiplyExact(TensorInfo.product(s.shape, 0), s.dtype().bytes()));
            } catch (ArithmeticException overflow) {
                throw new IllegalArgumentException("file " + uri + ": tensor '" + s.name() + "' of shape "
                        + Arrays.toString(s.shape) + " takes the file beyond 2^63 bytes");
            }
            tensors[i] = new TensorInfo(s.name(), s.dtype(), s.shape, offset, end);
            ObjectNode entry = header.putObject(s.name());
            entry.put("dtype", s.dtype().name());
            ArrayNode shape = entry.putArray("shape");
            for (long d : s.shape) {
                shape.add(d);
            }
            entry.putArray("data_offsets").add(offset).add(end);
            offset = end;
        }
        // Compact, like the reference implementation's serde_json::to_string.
        byte[] json = StrictJson.compact(header).getBytes(StandardCharsets.UTF_8);
        // Pad with spaces (valid JSON whitespace) so the data buffer starts 8-byte aligned, as the
        // reference implementation does: readers may then map the data in place.
        int padded = (json.length + 7) & ~7;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) {
            head.put((byte) ' ');
        }
        return new Layout(head.array(), List.of(tensors));
    }

    /**
     * Checks the specs, opens {@code target} and writes the header.
     *
     * @param uri       the file, as messages name it
     * @param specs     the tensors, in file order; names distinct and not {@code __metadata__}
     * @param metadata  the {@code __metadata__} string map; omitted from the header when empty
     * @throws IllegalArgumentException for duplicate or reserved names, or sizes beyond a long (before
     *     {@code target} is opened)
     */
    public static SafetensorsWriter create(String uri, Target target, List<Spec> specs,
                                           Map<String, String> metadata) throws IOException {
        Layout layout = layout(uri, specs, metadata);
        TensorInfo[] tensors = layout.tensors().toArray(new TensorInfo[0]);
        long elements = 0;
        for (TensorInfo t : tensors) {
            elements += t.elements(); // at most the bytes, which fit a long
        }
        OutputStream out = target.open();
        try {
            out.write(layout.header());
        } catch (IOException | RuntimeException e) {
            try {
                out.close();
                target.discard();
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        return new SafetensorsWriter(uri, target, out, tensors, elements, layout.fileLength() - layout.dataStart());
    }

    /** The tensors with their offsets, as the header states them. */
    public List<TensorInfo> tensors() {
        return List.of(tensors);
    }

    /**
     * Appends all remaining floats of {@code src} (advancing its position to its limit), converted to
     * the current tensor's dtype, moving on to the next tensor whenever one is full.
     *
     * @throws IllegalArgumentException when {@code src} holds more floats than the tensors have room
     *     left for; nothing is written then
     */
    public void writeFloats(FloatBuffer src) throws IOException {
        write(src.remaining(), "floats", (dtype, k) -> dtype.encode(src, k, buf, 0));
    }

    /**
     * As {@link #writeFloats}, for doubles: F64 tensors take them as they are (training checkpoints), the
     * others through float32.
     */
    public void writeDoubles(DoubleBuffer src) throws IOException {
        write(src.remaining(), "doubles", (dtype, k) -> dtype.encode(src, k, buf, 0));
    }

    /** Puts the source's next {@code k} values into {@link #buf} as {@code dtype}. */
    private interface Encoder {
        void encode(DType dtype, int k);
    }

    private void write(int count, String what, Encoder encoder) throws IOException {
        checkRoom(count, what);
        for (int left = count; left > 0; ) {
            DType dtype = nextTensor().dtype();
            int k = chunk(left, dtype);
            encoder.encode(dtype, k);
            append(k, dtype);
            left -= k;
        }
    }

    private void checkRoom(int given, String what) {
        if (closed) {
            throw new IllegalStateException("file " + file + " is closed");
        }
        if (given > totalElements - written) {
            throw new IllegalArgumentException("file " + file + ": " + given
                    + " " + what + " given, but only " + (totalElements - written) + " of " + totalElements
                    + " elements are left to write");
        }
    }

    /** The tensor being filled, moving past full (and empty) ones. */
    private TensorInfo nextTensor() {
        while (writtenInCurrent == tensors[current].elements()) {
            current++;
            writtenInCurrent = 0;
        }
        return tensors[current];
    }

    private int chunk(int remaining, DType dtype) {
        return (int) Math.min(Math.min(remaining, tensors[current].elements() - writtenInCurrent),
                buf.length / dtype.bytes());
    }

    private void append(int k, DType dtype) throws IOException {
        out.write(buf, 0, k * dtype.bytes());
        writtenInCurrent += k;
        written += k;
    }

    /**
     * Closes the stream after checking every tensor was written in full.
     *
     * @throws TensorFormatException when one was not ("tensor 'o' incomplete: wrote X of Y elements");
     *     the incomplete file is deleted
     */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        TensorFormatException incomplete = null;
        for (int i = current; i < tensors.length && incomplete == null; i++) {
            long done = i == current ? writtenInCurrent : 0;
            if (done < tensors[i].elements()) {
                incomplete = new TensorFormatException(file, tensors[i].name(), "tensor '" + tensors[i].name()
                        + "' incomplete: wrote " + done + " of " + tensors[i].elements() + " elements");
            }
        }
        IOException closeError = null;
        try {
            out.close();
        } catch (IOException e) {
            closeError = e;
        }
        if (incomplete != null) {
            try {
                target.discard();
            } catch (IOException e) {
                incomplete.addSuppressed(e);
            }
            if (closeError != null) {
                incomplete.addSuppressed(closeError);
            }
            throw incomplete;
        }
        if (closeError != null) {
            throw closeError;
        }
    }
}
