package io.longnet.tensors;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A safetensors file opened for reading: the project's one reader, for model weights, training
 * checkpoints and attention inputs alike. It reads from a {@link PositionalInput}: a local file
 * ({@link #open(Path)}) or, through io.longnet.storage, any Hadoop file system ({@code file:},
 * {@code hdfs://}). The header is read and validated once, on open; tensor data are read on demand with
 * positioned reads, a bounded chunk at a time, so files of many GB never have to fit in memory.
 *
 * <p>Format: an 8-byte little-endian header length {@code N}, {@code N} bytes of UTF-8 JSON mapping
 * tensor names to {@code {"dtype", "shape", "data_offsets": [begin, end]}} (plus an optional
 * {@code "__metadata__"} string map), then the data buffer; offsets are relative to byte {@code 8 + N},
 * data are little-endian and row-major.
 */
public final class SafetensorsFile implements AutoCloseable {

    /** Same cap as the reference implementation: a larger header is a corrupt or foreign file. */
    static final long MAX_HEADER_BYTES = 100_000_000L;
    public static final String METADATA_KEY = "__metadata__";
    /** Bytes per positioned read in {@link #readRows}: large enough for HDFS throughput, small on heap. */
    private static final int CHUNK_BYTES = 1 << 20;

    private final String file;
    private final PositionalInput in;
    private final long dataStart;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;
    private boolean closed;

    private SafetensorsFile(String file, PositionalInput in, long dataStart,
                            Map<String, TensorInfo> tensors, Map<String, String> metadata) {
        this.file = file;
        this.in = in;
        this.dataStart = dataStart;
        this.tensors = Collections.unmodifiableMap(tensors);
        this.metadata = Collections.unmodifiableMap(metadata);
    }

    /** Opens and validates a local safetensors file; messages name it as {@code file.toString()}. */
    public static SafetensorsFile open(Path file) throws IOException {
        return open(file.toString(), PositionalInput.of(file));
    }

    /**
     * Opens and validates a safetensors file, taking over {@code in} (closed by {@link #close}, or here when
     * the file is refused).
     *
     * @param file what {@code in} reads, as the user named it; messages begin "file <file>: "
     * @throws TensorFormatException when the header is malformed or inconsistent, or data are missing
     * @throws IOException           when the file cannot be read
     */
    public static SafetensorsFile open(String file, PositionalInput in) throws IOException {
        try {
            return readHeader(file, in, in.length());
        } catch (IOException | RuntimeException | Error e) {
            try {
                in.close();
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    private static SafetensorsFile readHeader(String file, PositionalInput in, long length) throws IOException {
        if (length < 8) {
            throw new TensorFormatException(file, null, "too short for a safetensors file: " + length
                    + " bytes, but the header length alone takes 8");
        }
        byte[] prefix = new byte[8];
        in.readFully(0, prefix, 0, 8);
        long n = ByteBuffer.wrap(prefix).order(ByteOrder.LITTLE_ENDIAN).getLong();
        if (n < 0 || n > MAX_HEADER_BYTES) {
            throw new TensorFormatException(file, null, "header length " + Long.toUnsignedString(n)
                    + " bytes exceeds the limit of " + MAX_HEADER_BYTES + " bytes (100 MB); not a safetensors file?");
        }
        if (n > length - 8) {
            throw new TensorFormatException(file, null, "header length " + n
                    + " bytes is larger than the file (" + length + " bytes); truncated or not a safetensors file?");
        }
        byte[] header = new byte[(int) n];
        in.readFully(8, header, 0, header.length);
        JsonNode root;
        try {
            root = StrictJson.readTree(header); // duplicate keys and trailing content are errors
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            String where = at == null ? "" : " at header byte " + at.getByteOffset();
            throw new TensorFormatException(file, null, "header is not valid JSON" + where + ": "
                    + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new TensorFormatException(file, null, "header is not a JSON object but "
                    + (root == null || root.isMissingNode() ? "empty" : root.getNodeType()));
        }

        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : root.properties()) {
            if (e.getKey().equals(METADATA_KEY)) {
                parseMetadata(file, e.getValue(), metadata);
            } else {
                tensors.put(e.getKey(), parseTensor(file, e.getKey(), e.getValue()));
            }
        }
        long dataStart = 8 + n;
        checkLayout(file, tensors, length - dataStart, dataStart, length);
        return new SafetensorsFile(file, in, dataStart, tensors, metadata);
    }

    private static void parseMetadata(String file, JsonNode node, Map<String, String> out) {
        if (!node.isObject()) {
            throw new TensorFormatException(file, null, METADATA_KEY + " must be an object of strings, not "
                    + node.getNodeType());
        }
        for (Map.Entry<String, JsonNode> m : node.properties()) {
            if (!m.getValue().isTextual()) {
                throw new TensorFormatException(file, null, METADATA_KEY + " must map strings to strings, but '"
                        + m.getKey() + "' holds " + m.getValue().getNodeType());
            }
            out.put(m.getKey(), m.getValue().textValue());
        }
    }

    private static TensorInfo parseTensor(String file, String name, JsonNode node) {
        String what = "tensor '" + name + "': ";
        if (!node.isObject()) {
            throw new TensorFormatException(file, name, what
                    + "expected an object with dtype, shape and data_offsets, found " + node.getNodeType());
        }
        JsonNode dtypeNode = require(file, name, node, "dtype");
        if (!dtypeNode.isTextual()) {
            throw new TensorFormatException(file, name, what + "'dtype' must be a string, found " + dtypeNode);
        }
        DType dtype = DType.parse(file, name, dtypeNode.textValue());
        long[] shape = longs(file, name, require(file, name, node, "shape"), "shape");
        long[] offsets = longs(file, name, require(file, name, node, "data_offsets"), "data_offsets");
        for (long d : shape) {
            if (d < 0) {
                throw new TensorFormatException(file, name, what + "shape " + TensorInfo.format(shape)
                        + " has a negative dimension");
            }
        }
        if (offsets.length != 2) {
            throw new TensorFormatException(file, name, what + "data_offsets must be [begin, end], found "
                    + TensorInfo.format(offsets));
        }
        long begin = offsets[0];
        long end = offsets[1];
        if (begin < 0 || end < 0) {
            throw new TensorFormatException(file, name, what + "data_offsets " + TensorInfo.format(offsets)
                    + " are negative");
        }
        if (begin > end) {
            throw new TensorFormatException(file, name, what + "data_offsets " + TensorInfo.format(offsets)
                    + " begin after they end");
        }
        long needed;
        try {
            needed = Math.multiplyExact(TensorInfo.product(shape, 0), dtype.bytes());
        } catch (ArithmeticException overflow) {
            throw new TensorFormatException(file, name, what + "shape " + TensorInfo.format(shape)
                    + " has more bytes than a file can hold");
        }
        if (end - begin != needed) {
            throw new TensorFormatException(file, name, what + "shape " + TensorInfo.format(shape) + " of "
                    + dtype + " needs " + needed + " bytes, data_offsets give " + (end - begin)
                    + " (" + TensorInfo.format(offsets) + ")");
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    private static JsonNode require(String file, String name, JsonNode node, String key) {
        JsonNode v = node.get(key);
        if (v == null) {
            throw new TensorFormatException(file, name, "tensor '" + name + "': missing '" + key + "'");
        }
        return v;
    }

    private static long[] longs(String file, String name, JsonNode node, String key) {
        String bad = "tensor '" + name + "': '" + key + "' must be an array of integers, found ";
        if (!node.isArray()) {
            throw new TensorFormatException(file, name, bad + node);
        }
        long[] out = new long[node.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = node.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToLong()) {
                throw new TensorFormatException(file, name, bad + node);
            }
            out[i] = v.longValue();
        }
        return out;
    }

    /**
     * Checks that tensors do not overlap and that the data buffer holds them all. A header whose
     * tensors tile {@code [0, maxEnd)} without holes is self-consistent, so a short data buffer means
     * the file was cut off ("truncated"); with holes, the offsets themselves are suspect ("out of range").
     */
    private static void checkLayout(String file, Map<String, TensorInfo> tensors, long dataLength,
                                    long dataStart, long fileLength) {
        TensorInfo[] byOffset = tensors.values().stream()
                .filter(t -> t.end() > t.begin()) // empty tensors occupy no bytes and overlap nothing
                .sorted(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end))
                .toArray(TensorInfo[]::new);
        TensorInfo last = null; // the tensor reaching furthest so far
        long total = 0;
        for (TensorInfo t : byOffset) {
            if (last != null && t.begin() < last.end()) {
                throw new TensorFormatException(file, last.name(), "tensors '" + last.name() + "' and '"
                        + t.name() + "' overlap: data_offsets [" + last.begin() + ", " + last.end() + "] and ["
                        + t.begin() + ", " + t.end() + "]");
            }
            total += t.byteLength();
            if (last == null || t.end() > last.end()) {
                last = t;
            }
        }
        if (last == null || last.end() <= dataLength) {
            return;
        }
        if (total == last.end()) {
            TensorInfo cut = null;
            for (TensorInfo t : byOffset) {
                if (t.end() > dataLength) {
                    cut = t;
                    break;
                }
            }
            throw new TensorFormatException(file, cut.name(), "truncated: the header describes " + last.end()
                    + " data bytes, the file holds " + dataLength + " (" + fileLength + " bytes in all, "
                    + (dataStart + last.end()) + " expected); tensor '" + cut.name() + "' at data_offsets ["
                    + cut.begin() + ", " + cut.end() + "] is the first one cut off");
        }
        throw new TensorFormatException(file, last.name(), "tensor '" + last.name()
                + "': data offsets out of range: [" + last.begin() + ", " + last.end() + "] but the data buffer holds "
                + dataLength + " bytes");
    }

    /** The file as it was named to {@link #open}. */
    public String file() {
        return file;
    }

    /** All tensors, in the order of the header. */
    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    /**
     * The tensor of that name.
     *
     * @throws TensorFormatException when the file has none
     */
    public TensorInfo tensor(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            // Models hold hundreds of tensors: list enough to spot a naming scheme, not all of them.
            int shown = Math.min(tensors.size(), 20);
            String has = String.join(", ", Arrays.copyOf(tensors.keySet().toArray(new String[0]), shown));
            if (tensors.size() > shown) {
                has += ", ... (" + tensors.size() + " in all)";
            }
            throw new TensorFormatException(file, name, "no tensor '" + name + "' (has: " + has + ")");
        }
        return t;
    }

    /** The header's {@code __metadata__} map (empty when absent), in header order. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Offset of the data buffer in the file, {@code 8 + N}. */
    public long dataStart() {
        return dataStart;
    }

    /**
     * The whole tensor {@code name} as float32 (F16 and BF16 widened exactly, F64 rounded).
     *
     * @throws TensorFormatException when there is no such tensor or it is larger than one Java array
     */
    public float[] readFloats(String name) throws IOException {
        TensorInfo t = tensor(name);
        float[] out = new float[arrayLength(t)];
        readRows(name, 0, (int) Math.min(t.rows(), Integer.MAX_VALUE), FloatBuffer.wrap(out));
        return out;
    }

    /**
     * The whole tensor {@code name} as float64, into {@code dst[at...]} (F64 as stored, the others widened).
     *
     * @throws TensorFormatException    when there is no such tensor or it is larger than one Java array
     * @throws IllegalArgumentException when it does not fit {@code dst} from {@code at}
     */
    public void readDoubles(String name, double[] dst, int at) throws IOException {
        checkOpen();
        TensorInfo t = tensor(name);
        int count = arrayLength(t);
        if (at < 0 || at > dst.length - count) {
            throw new IllegalArgumentException("file " + file + ": tensor '" + name + "' of " + count
                    + " elements does not fit an array of " + dst.length + " from index " + at);
        }
        DType dtype = t.dtype();
        int bytes = dtype.bytes();
        int chunk = Math.max(1, Math.min(count, CHUNK_BYTES / bytes));
        byte[] buf = new byte[chunk * bytes];
        long position = dataStart + t.begin();
        for (int done = 0; done < count; ) {
            int k = Math.min(count - done, chunk);
            in.readFully(position, buf, 0, k * bytes);
            dtype.decode(buf, 0, k, dst, at + done);
            position += (long) k * bytes;
            done += k;
        }
    }

    /** The element count of {@code t}, refused when one Java array cannot hold it. */
    private int arrayLength(TensorInfo t) {
        long n = t.elements();
        if (n > Integer.MAX_VALUE - 8) {
            throw new TensorFormatException(file, t.name(), "tensor '" + t.name() + "': shape "
                    + TensorInfo.format(t.shape()) + " has more elements than one Java array can hold (about 2^31)");
        }
        return (int) n;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("file " + file + " is closed");
        }
    }

    /** The header's JSON text as stored (padding included): for tests and diagnostics. */
    public static String headerText(Path file) throws IOException {
        try (PositionalInput in = PositionalInput.of(file)) {
            byte[] prefix = new byte[8];
            in.readFully(0, prefix, 0, 8);
            long n = ByteBuffer.wrap(prefix).order(ByteOrder.LITTLE_ENDIAN).getLong();
            if (n < 0 || n > Math.min(MAX_HEADER_BYTES, in.length() - 8)) {
                throw new TensorFormatException(file.toString(), null, "header length " + Long.toUnsignedString(n)
                        + " does not fit the file; not a safetensors file?");
            }
            byte[] header = new byte[(int) n];
            in.readFully(8, header, 0, header.length);
            return new String(header, StandardCharsets.UTF_8);
        }
    }

    /**
     * Reads rows {@code [firstRow, firstRow + rowCount)} of a tensor (along its first dimension),
     * converted to float32, and puts {@code rowCount * rowElements} floats at {@code dst}'s position,
     * advancing it. Positioned reads leave no shared file pointer behind, and each call uses a buffer
     * of its own.
     *
     * @throws IllegalArgumentException when the rows are not in the tensor or {@code dst} is too small
     * @throws TensorFormatException     when there is no tensor of that name
     */
    public void readRows(String name, long firstRow, int rowCount, FloatBuffer dst) throws IOException {
        checkOpen();
        TensorInfo t = tensor(name);
        long rows = t.rows();
        if (firstRow < 0 || rowCount < 0 || firstRow > rows - rowCount) {
            throw new IllegalArgumentException("file " + file + ": tensor '" + name + "' has " + rows
                    + " rows, cannot read rows [" + firstRow + ", " + (firstRow + rowCount) + ")");
        }
        long rowElements = t.rowElements();
        long count = rowCount * rowElements; // at most t.elements(): no overflow
        if (count > dst.remaining()) {
            throw new IllegalArgumentException("file " + file + ": reading " + rowCount + " rows of tensor '"
                    + name + "' gives " + count + " floats, the destination has room for " + dst.remaining());
        }
        DType dtype = t.dtype();
        int bytes = dtype.bytes();
        int chunk = (int) Math.min(count, CHUNK_BYTES / bytes);
        // A direct buffer: a local file (or HDFS) reads into it with no copy on the heap, and the dtype
        // converts from it in bulk. Chunked, so that GBs of rows need no GBs off the heap.
        ByteBuffer buf = ByteBuffer.allocateDirect(Math.max(1, chunk * bytes));
        long position = dataStart + t.begin() + firstRow * rowElements * bytes;
        int left = (int) count;
        while (left > 0) {
            int k = Math.min(left, chunk);
            buf.clear().limit(k * bytes);
            in.readFully(position, buf);
            buf.flip();
            dtype.decode(buf, k, dst);
            position += (long) k * bytes;
            left -= k;
        }
    }

    @Override
    public void close() throws IOException {
        if (!closed) {
            closed = true;
            in.close();
        }
    }
}
