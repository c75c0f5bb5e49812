package io.longnet.model;

/**
 * A model file that cannot be used as it is: a config JSON that does not parse or describes an
 * impossible model, a safetensors file with a bad header, or weights that do not fit the config (a
 * missing, unexpected or misshapen tensor). The message starts with what was read, e.g.
 * {@code "model weights /m/model.safetensors: missing tensor 'layer_norm.bias'"}, so that the CLI can
 * print it as one line a user can act on.
 */
public final class ModelFormatException extends RuntimeException {

    private final String source;

    /**
     * @param source what was being read, e.g. {@code "model weights /m/model.safetensors"} or
     *               {@code "model config /m/config.json"}
     * @param detail what is wrong with it
     */
    public ModelFormatException(String source, String detail) {
        this(source, detail, null);
    }

    public ModelFormatException(String source, String detail, Throwable cause) {
        super(source + ": " + detail, cause);
        this.source = source;
    }

    /** What was being read, as it begins the message. */
    public String source() {
        return source;
    }
}
