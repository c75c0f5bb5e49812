package io.longnet.datasets;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The one way to name a tokenizer: a spec is {@code byte} (the default, also for {@code null} or blank)
 * or the path of a Hugging Face {@code tokenizer.json}, or of a folder holding one.
 */
public final class Tokenizers {

    /** The spec of the default tokenizer. */
    public static final String BYTE = ByteTokenizer.NAME;
    private static final String FILE = "tokenizer.json";
    /** Larger than any real tokenizer.json (the biggest public ones are tens of MB). */
    private static final long MAX_BYTES = 1L << 30;

    private Tokenizers() {
    }

    /**
     * Opens the tokenizer {@code spec} names; a path is read through Hadoop's file systems, so a local
     * path, a {@code file:} or an {@code hdfs://} URI all work. The caller closes the tokenizer.
     */
    public static Tokenizer open(String spec) throws IOException {
        return read(spec, new Configuration()).open();
    }

    /**
     * Reads what {@code spec} names (on the driver), for tasks to open: see {@link TokenizerSource}.
     *
     * @throws FileNotFoundException    naming the path when there is no such file
     * @throws IllegalArgumentException when the file is not a usable tokenizer.json
     */
    public static TokenizerSource source(String spec, Configuration conf) throws IOException {
        TokenizerSource source = read(spec, conf);
        // Open it once here, so that a bad file fails on the driver with one clear message, not in tasks.
        source.open().close();
        return source;
    }

    private static TokenizerSource read(String spec, Configuration conf) throws IOException {
        if (spec == null || spec.isBlank() || BYTE.equals(spec.strip())) {
            return TokenizerSource.bytes();
        }
        Path path = new Path(spec.strip());
        FileSystem fs = path.getFileSystem(conf);
        if (!fs.exists(path)) {
            throw new FileNotFoundException("tokenizer " + spec + " does not exist (give 'byte' or the path of a"
                    + " Hugging Face tokenizer.json)");
        }
        if (fs.getFileStatus(path).isDirectory()) {
            path = new Path(path, FILE);
            if (!fs.exists(path)) {
                throw new FileNotFoundException("tokenizer folder " + spec + " holds no " + FILE);
            }
        }
        long length = fs.getFileStatus(path).getLen();
        if (length > MAX_BYTES) {
            throw new IllegalArgumentException("tokenizer " + spec + " is " + length + " bytes: too large for a"
                    + " tokenizer.json");
        }
        byte[] json;
        try (InputStream in = fs.open(path)) {
            json = in.readAllBytes();
        }
        return TokenizerSource.huggingFace(spec.strip(), json);
    }
}
