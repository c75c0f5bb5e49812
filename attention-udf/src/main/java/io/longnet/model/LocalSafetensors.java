package io.longnet.model;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Safetensors files on the local file system, for model weights: reads F32, F16 and BF16 tensors (the
 * half types widened exactly to float), writes F32; and, for training checkpoints, reads and writes F64
 * tensors straight from and into slices of flat {@code double[]} arrays (no per-tensor copies of a
 * model-sized vector). The datasets module has the general reader (Hadoop file systems, streaming,
 * bounded memory); this one keeps {@code io.longnet.model} free of Hadoop and Jackson and reads every
 * tensor whole, as a model needs them.
 *
 * <p>Format: an 8-byte little-endian header length {@code N}, {@code N} bytes of UTF-8 JSON mapping each
 * tensor name to {@code {"dtype", "shape", "data_offsets": [begin, end]}} (and an optional
 * {@code "__metadata__"} map of strings), then the data; offsets count from byte {@code 8 + N}; values
 * are little-endian, row-major.
 */
public final class LocalSafetensors {

    static final String METADATA_KEY = "__metadata__";
    /** The reference implementation's cap: a larger header means a corrupt or foreign file. */
    static final long MAX_HEADER_BYTES = 100_000_000L;
    /** Bytes per read or write: large enough for throughput, small on the heap. */
    private static final int CHUNK_BYTES = 1 << 20;

    private LocalSafetensors() {
    }

    /** Element types read here: F32, F16, BF16 into float tensors; F64 into double slices. */
    private enum DType {
        F32(4), F16(2), BF16(2), F64(8);

        final int bytes;

        DType(int bytes) {
            this.bytes = bytes;
        }
    }

    /** A tensor's header entry. */
    private record Entry(String name, DType dtype, int[] shape, long begin, long end) {
    }

    /** A parsed header: the tensors in header order, the metadata, where the data start and how long they are. */
    private record Header(List<Entry> entries, Map<String, String> metadata, long dataStart, long dataLength) {
    }

    /**
     * A float64 tensor {@code name} of {@code shape} stored in {@code array[offset, offset + elements)}: what
     * {@link #writeDoubles} writes and where {@link #readDoubles} puts what it reads.
     */
    public record DoubleSlice(String name, int[] shape, double[] array, int offset) {

        public DoubleSlice {
            shape = shape.clone();
            long n = elements(shape);
            if (offset < 0 || offset + n > array.length) {
                throw new IllegalArgumentException("tensor '" + name + "' of shape " + Arrays.toString(shape)
                        + " at offset " + offset + " does not fit an array of " + array.length);
            }
        }

        int count() {
            return (int) elements(shape);
        }

        private static long elements(int[] shape) {
            long n = 1;
            for (int s : shape) {
                n *= s;
            }
            return n;
        }
    }

    /**
     * Reads every tensor of {@code file}, in header order.
     *
     * @param source what is being read, for messages ("model weights /m/model.safetensors")
     * @throws ModelFormatException when the file is not a safetensors file this reader accepts
     */
    static Map<String, ModelWeights.Tensor> read(Path file, String source) throws IOException {
        try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
            Header header = parseHeader(in, source, false);
            Map<String, ModelWeights.Tensor> out = new LinkedHashMap<>();
            ByteBuffer chunk = chunk(header);
            for (Entry t : header.entries()) {
                out.put(t.name(), new ModelWeights.Tensor(t.shape(), readData(in, header.dataStart(), t, chunk)));
            }
            return out;
        }
    }

    /**
     * Reads the F64 tensors of {@code file} into {@code into}: the file must hold exactly those tensors
     * (any order), each F64 of the slice's shape.
     *
     * @param source what is being read, for messages ("training checkpoint /c/step-000000120/params.safetensors")
     * @return the file's {@code __metadata__} (empty when it has none)
     * @throws ModelFormatException when the file is malformed, holds another dtype, or misses, adds or
     *     misshapes a tensor
     */
    public static Map<String, String> readDoubles(Path file, String source, List<DoubleSlice> into) throws IOException {
        try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
            Header header = parseHeader(in, source, true);
            Map<String, Entry> byName = new LinkedHashMap<>();
            for (Entry e : header.entries()) {
                byName.put(e.name(), e);
            }
            Map<String, DoubleSlice> wanted = new LinkedHashMap<>();
            for (DoubleSlice s : into) {
                wanted.put(s.name(), s);
                Entry e = byName.get(s.name());
                if (e == null) {
                    throw new ModelFormatException(source, "missing tensor '" + s.name() + "'");
                }
                if (!Arrays.equals(e.shape(), s.shape())) {
                    throw new ModelFormatException(source, "tensor '" + s.name() + "' has shape "
                            + Arrays.toString(e.shape()) + ", expected " + Arrays.toString(s.shape()));
                }
            }
            for (Entry e : header.entries()) {
                if (!wanted.containsKey(e.name())) {
                    throw new ModelFormatException(source, "unexpected tensor '" + e.name() + "'");
                }
            }
            ByteBuffer chunk = chunk(header);
            for (DoubleSlice s : into) {
                Entry t = byName.get(s.name());
                int per = chunk.capacity() / 8;
                long pos = header.dataStart() + t.begin();
                int count = s.count();
                for (int done = 0; done < count; ) {
                    int k = Math.min(per, count - done);
                    chunk.clear().limit(8 * k);
                    readFully(in, chunk, pos);
                    chunk.flip();
                    chunk.asDoubleBuffer().get(s.array(), s.offset() + done, k);
                    done += k;
                    pos += 8L * k;
                }
            }
            return header.metadata();
        }
    }

    private static ByteBuffer chunk(Header header) {
        return ByteBuffer.allocate((int) Math.min(CHUNK_BYTES, Math.max(8, header.dataLength())))
                .order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Reads and checks the header: length, UTF-8, JSON, every entry's dtype (F32/F16/BF16, or F64 when
     * {@code doubles}), shape and offsets, no overlaps.
     */
    private static Header parseHeader(FileChannel in, String source, boolean doubles) throws IOException {
        long size = in.size();
        if (size < 8) {
            throw new ModelFormatException(source, "too short for a safetensors file: " + size
                    + " bytes, but the header length alone takes 8");
        }
        ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(in, prefix, 0);
        long n = prefix.getLong(0);
        if (n < 0 || n > MAX_HEADER_BYTES) {
            throw new ModelFormatException(source, "header length " + Long.toUnsignedString(n)
                    + " bytes exceeds the limit of " + MAX_HEADER_BYTES + " bytes; not a safetensors file?");
        }
        if (n > size - 8) {
            throw new ModelFormatException(source, "header length " + n + " bytes is larger than the file ("
                    + size + " bytes); truncated or not a safetensors file?");
        }
        ByteBuffer headerBytes = ByteBuffer.allocate((int) n);
        readFully(in, headerBytes, 8);
        String header;
        try {
            header = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(headerBytes.flip()).toString();
        } catch (CharacterCodingException e) {
            throw new ModelFormatException(source, "header is not UTF-8 text; not a safetensors file?", e);
        }
        Object root;
        try {
            root = Json.parse(header);
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(source, "header is not valid JSON: " + e.getMessage(), e);
        }
        if (!(root instanceof Map<?, ?> map)) {
            throw new ModelFormatException(source, "header is " + Json.typeName(root) + ", not a JSON object");
        }
        long dataStart = 8 + n;
        long dataLength = size - dataStart;
        List<Entry> entries = new ArrayList<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : map.entrySet()) {
            String name = (String) e.getKey();
            if (name.equals(METADATA_KEY)) {
                checkMetadata(source, e.getValue());
                for (Map.Entry<?, ?> m : ((Map<?, ?>) e.getValue()).entrySet()) {
                    metadata.put((String) m.getKey(), (String) m.getValue());
                }
            } else {
                entries.add(entry(source, name, e.getValue(), dataLength, doubles));
            }
        }
        checkOverlaps(source, entries);
        return new Header(entries, metadata, dataStart, dataLength);
    }

    private static void checkMetadata(String source, Object value) {
        if (!(value instanceof Map<?, ?> m)) {
            throw new ModelFormatException(source, METADATA_KEY + " must be an object of strings, found "
                    + Json.typeName(value));
        }
        for (Map.Entry<?, ?> e : m.entrySet()) {
            if (!(e.getValue() instanceof String)) {
                throw new ModelFormatException(source, METADATA_KEY + " must map strings to strings, but '"
                        + e.getKey() + "' holds " + Json.typeName(e.getValue()));
            }
        }
    }

    private static Entry entry(String source, String name, Object value, long dataLength, boolean doubles) {
        String what = "tensor '" + name + "': ";
        if (!(value instanceof Map<?, ?> m)) {
            throw new ModelFormatException(source, what + "expected an object with dtype, shape and data_offsets, found "
                    + Json.typeName(value));
        }
        Object dtypeValue = field(source, name, m, "dtype");
        if (!(dtypeValue instanceof String dtypeName)) {
            throw new ModelFormatException(source, what + "'dtype' must be a string, found " + Json.typeName(dtypeValue));
        }
        DType dtype = null;
        for (DType t : DType.values()) {
            if (t.name().equals(dtypeName)) {
                dtype = t;
            }
        }
        if (doubles && dtype != DType.F64) {
            throw new ModelFormatException(source, "tensor '" + name + "' has dtype " + dtypeName
                    + "; training checkpoints hold F64 (float64) tensors");
        }
        if (!doubles && (dtype == null || dtype == DType.F64)) {
            throw new ModelFormatException(source, "tensor '" + name + "' has dtype " + dtypeName
                    + "; model weights must be F32, F16 or BF16 (the half types are widened to float)");
        }
        long[] shapeL = longs(source, name, m, "shape");
        long[] offsets = longs(source, name, m, "data_offsets");
        long elements = 1;
        for (long d : shapeL) {
            if (d < 0) {
                throw new ModelFormatException(source, what + "shape " + Arrays.toString(shapeL)
                        + " has a negative dimension");
            }
            elements = d == 0 || elements == 0 ? 0 : (elements > Integer.MAX_VALUE / d ? Long.MAX_VALUE : elements * d);
        }
        if (elements > Integer.MAX_VALUE - 8) {
            throw new ModelFormatException(source, what + "shape " + Arrays.toString(shapeL)
                    + " has more elements than one Java array can hold (about 2^31)");
        }
        int[] shape = new int[shapeL.length];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = (int) shapeL[i];
        }
        if (offsets.length != 2) {
            throw new ModelFormatException(source, what + "data_offsets must be [begin, end], found "
                    + Arrays.toString(offsets));
        }
        long begin = offsets[0];
        long end = offsets[1];
        if (begin < 0 || begin > end) {
            throw new ModelFormatException(source, what + "data_offsets " + Arrays.toString(offsets)
                    + " are not 0 <= begin <= end");
        }
        long needed = elements * dtype.bytes;
        if (end - begin != needed) {
            throw new ModelFormatException(source, what + "shape " + Arrays.toString(shape) + " of " + dtype
                    + " needs " + needed + " bytes, data_offsets " + Arrays.toString(offsets) + " give "
                    + (end - begin));
        }
        if (end > dataLength) {
            throw new ModelFormatException(source, what + "data_offsets " + Arrays.toString(offsets)
                    + " reach past the end of the data (" + dataLength + " bytes); truncated file?");
        }
        return new Entry(name, dtype, shape, begin, end);
    }

    private static Object field(String source, String name, Map<?, ?> m, String key) {
        if (!m.containsKey(key)) {
            throw new ModelFormatException(source, "tensor '" + name + "': missing '" + key + "'");
        }
        return m.get(key);
    }

    private static long[] longs(String source, String name, Map<?, ?> m, String key) {
        Object v = field(source, name, m, key);
        String bad = "tensor '" + name + "': '" + key + "' must be an array of whole numbers, found ";
        if (!(v instanceof List<?> list)) {
            throw new ModelFormatException(source, bad + Json.typeName(v));
        }
        long[] out = new long[list.size()];
        for (int i = 0; i < out.length; i++) {
            if (!(list.get(i) instanceof Long l)) {
                throw new ModelFormatException(source, bad + list);
            }
            out[i] = l;
        }
        return out;
    }

    private static void checkOverlaps(String source, List<Entry> entries) {
        List<Entry> sorted = new ArrayList<>();
        for (Entry e : entries) {
            if (e.end() > e.begin()) {
                sorted.add(e);
            }
        }
        sorted.sort(Comparator.comparingLong(Entry::begin));
        for (int i = 1; i < sorted.size(); i++) {
            Entry a = sorted.get(i - 1);
            Entry b = sorted.get(i);
            if (b.begin() < a.end()) {
                throw new ModelFormatException(source, "tensors '" + a.name() + "' and '" + b.name()
                        + "' overlap: data_offsets [" + a.begin() + ", " + a.end() + "] and [" + b.begin() + ", "
                        + b.end() + "]");
            }
        }
    }

    private static float[] readData(FileChannel in, long dataStart, Entry t, ByteBuffer chunk) throws IOException {
        int count = (int) ((t.end() - t.begin()) / t.dtype().bytes);
        float[] out = new float[count];
        int per = chunk.capacity() / t.dtype().bytes;
        long pos = dataStart + t.begin();
        for (int done = 0; done < count; ) {
            int k = Math.min(per, count - done);
            chunk.clear().limit(k * t.dtype().bytes);
            readFully(in, chunk, pos);
            chunk.flip();
            switch (t.dtype()) {
                case F32 -> chunk.asFloatBuffer().get(out, done, k);
                case F16 -> {
                    for (int i = 0; i < k; i++) {
                        out[done + i] = halfToFloat(chunk.getShort(2 * i) & 0xFFFF);
                    }
                }
                case BF16 -> {
                    for (int i = 0; i < k; i++) {
                        out[done + i] = Float.intBitsToFloat((chunk.getShort(2 * i) & 0xFFFF) << 16);
                    }
                }
                default -> throw new IllegalStateException("unhandled dtype " + t.dtype());
            }
            done += k;
            pos += (long) k * t.dtype().bytes;
        }
        return out;
    }

    /** IEEE 754 binary16 bits to float, exactly (zeros, subnormals, normals, infinities, NaN). */
    static float halfToFloat(int bits) {
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1F;
        int mant = bits & 0x3FF;
        if (exp == 0x1F) {
            return Float.intBitsToFloat(sign | 0x7F800000 | mant << 13);
        }
        if (exp == 0) {
            // Subnormal or zero: mant * 2^-24 is exact in float.
            float v = mant * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | (exp + 112) << 23 | mant << 13);
    }

    private static void readFully(FileChannel in, ByteBuffer dst, long position) throws IOException {
        long pos = position;
        while (dst.hasRemaining()) {
            int r = in.read(dst, pos);
            if (r < 0) {
                throw new EOFException("unexpected end of file at byte " + pos);
            }
            pos += r;
        }
    }

    /**
     * Writes {@code tensors} as F32, in map order, atomically (temporary file, then rename). The header is
     * padded with spaces so that the data start at a multiple of 8 bytes, as the reference writer does.
     */
    static void write(Path file, Map<String, ModelWeights.Tensor> tensors, Map<String, String> metadata)
            throws IOException {
        List<Out> out = new ArrayList<>();
        for (Map.Entry<String, ModelWeights.Tensor> e : tensors.entrySet()) {
            float[] data = e.getValue().data();
            out.add(new Out(e.getKey(), DType.F32, e.getValue().shape(), data.length,
                    (chunk, from, k) -> chunk.asFloatBuffer().put(data, from, k)));
        }
        writeFile(file, out, metadata);
    }

    /** Writes {@code tensors} as F64, in list order, atomically; as {@link #write}. */
    public static void writeDoubles(Path file, List<DoubleSlice> tensors, Map<String, String> metadata) throws IOException {
        List<Out> out = new ArrayList<>();
        for (DoubleSlice s : tensors) {
            out.add(new Out(s.name(), DType.F64, s.shape(), s.count(),
                    (chunk, from, k) -> chunk.asDoubleBuffer().put(s.array(), s.offset() + from, k)));
        }
        writeFile(file, out, metadata);
    }

    /** Puts elements {@code [from, from + k)} of a tensor into a little-endian chunk, from its start. */
    private interface Filler {
        void put(ByteBuffer chunk, int from, int k);
    }

    /** A tensor to write. */
    private record Out(String name, DType dtype, int[] shape, int count, Filler filler) {
    }

    private static void writeFile(Path file, List<Out> tensors, Map<String, String> metadata) throws IOException {
        StringBuilder h = new StringBuilder("{");
        if (!metadata.isEmpty()) {
            h.append(Json.quote(METADATA_KEY)).append(":{");
            boolean first = true;
            for (Map.Entry<String, String> m : metadata.entrySet()) {
                h.append(first ? "" : ",").append(Json.quote(m.getKey())).append(':').append(Json.quote(m.getValue()));
                first = false;
            }
            h.append('}');
        }
        long offset = 0;
        for (Out t : tensors) {
            if (t.name().equals(METADATA_KEY)) {
                throw new IllegalArgumentException("tensor name '" + METADATA_KEY + "' is reserved");
            }
            long bytes = (long) t.dtype().bytes * t.count();
            if (h.length() > 1) {
                h.append(',');
            }
            h.append(Json.quote(t.name())).append(":{\"dtype\":\"").append(t.dtype()).append("\",\"shape\":[");
            int[] shape = t.shape();
            for (int i = 0; i < shape.length; i++) {
                h.append(i == 0 ? "" : ",").append(shape[i]);
            }
            h.append("],\"data_offsets\":[").append(offset).append(',').append(offset + bytes).append("]}");
            offset += bytes;
        }
        h.append('}');
        byte[] json = h.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) {
            head.put((byte) ' ');
        }
        head.flip();
        AtomicFiles.write(file, out -> {
            while (head.hasRemaining()) {
                out.write(head);
            }
            ByteBuffer chunk = ByteBuffer.allocate(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            for (Out t : tensors) {
                int per = CHUNK_BYTES / t.dtype().bytes;
                for (int done = 0; done < t.count(); ) {
                    int k = Math.min(per, t.count() - done);
                    chunk.clear();
                    t.filler().put(chunk, done, k);
                    chunk.limit(t.dtype().bytes * k);
                    while (chunk.hasRemaining()) {
                        out.write(chunk);
                    }
                    done += k;
                }
            }
        });
    }

    /** For tests: a decoded header string of a file, to check what was written. */
    public static String header(Path file) throws IOException {
        try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(in, prefix, 0);
            ByteBuffer h = ByteBuffer.allocate((int) prefix.getLong(0));
            readFully(in, h, 8);
            CharBuffer chars = StandardCharsets.UTF_8.decode(h.flip());
            return chars.toString();
        }
    }
}
