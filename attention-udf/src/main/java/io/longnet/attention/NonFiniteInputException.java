package io.longnet.attention;

/**
 * An infinite or NaN value among a kernel's q, k or v, which would make every output it touches NaN. Carries
 * where it is, so that the caller can name the file and position it came from.
 */
public final class NonFiniteInputException extends IllegalArgumentException {

    private final String tensor;
    private final long element;
    private final float value;

    /**
     * @param tensor  {@code q}, {@code k} or {@code v}
     * @param element the value's index from element 0 of the buffer the kernel was given
     * @param value   the value, widened to float
     */
    public NonFiniteInputException(String tensor, long element, float value) {
        super("tensor '" + tensor + "' holds " + value + " at element " + element);
        this.tensor = tensor;
        this.element = element;
        this.value = value;
    }

    public String tensor() {
        return tensor;
    }

    public long element() {
        return element;
    }

    public float value() {
        return value;
    }
}
