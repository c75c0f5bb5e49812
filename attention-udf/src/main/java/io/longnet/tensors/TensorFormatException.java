package io.longnet.tensors;

/**
 * A data file (safetensors and the like) that cannot be used as it is: bad header, inconsistent
 * offsets, truncated data, values that are not finite. The message names the file and, where one is
 * involved, the tensor, so that the CLI can print it as one line a user can act on.
 */
public final class TensorFormatException extends RuntimeException {

    private final String file;
    private final String tensor;
    private final String detail;

    /** For a problem found before the file is known (e.g. parsing a dtype string on its own). */
    public TensorFormatException(String message) {
        super(message);
        this.file = null;
        this.tensor = null;
        this.detail = message;
    }

    /**
     * @param file   the file as the user named it (URI or path)
     * @param tensor the tensor concerned, or {@code null} for a problem with the file as a whole
     * @param detail what is wrong; it names the tensor(s) itself, e.g. "tensor 'q' holds NaN at [1, 2]"
     */
    public TensorFormatException(String file, String tensor, String detail) {
        this(file, tensor, detail, null);
    }

    public TensorFormatException(String file, String tensor, String detail, Throwable cause) {
        super("file " + file + ": " + detail, cause);
        this.file = file;
        this.tensor = tensor;
        this.detail = detail;
    }

    /** The file as the user named it, or {@code null} where it was not known. */
    public String file() {
        return file;
    }

    /** What is wrong, without the file: for a caller that names the file its own way. */
    public String detail() {
        return detail;
    }

    /** The tensor concerned (the first one where two are), or {@code null} for a file-level problem. */
    public String tensor() {
        return tensor;
    }
}
