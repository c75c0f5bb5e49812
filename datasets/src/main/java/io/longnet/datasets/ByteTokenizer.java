package io.longnet.datasets;

import java.nio.charset.StandardCharsets;
import java.util.OptionalInt;

/**
 * The default tokenizer: one token per UTF-8 byte, no files needed.
 * <ul>
 *   <li>ids {@code 0..255}: the byte of that value;</li>
 *   <li>{@value #END_OF_TEXT}: end of text, the separator between concatenated documents;</li>
 *   <li>{@value #PADDING}: padding (never produced by {@code encode}).</li>
 * </ul>
 * Vocabulary size {@value #VOCAB_SIZE}. {@link #encode(byte[])} and {@link #decodeBytes(int[])} are exact
 * inverses on any byte sequence, valid UTF-8 or not. {@link #encode(String)} encodes the string's UTF-8
 * bytes (an unpaired surrogate, which has none, becomes {@code '?'} as in {@link String#getBytes}), and
 * {@link #decode(int[])} decodes the bytes as UTF-8, each invalid sequence becoming one U+FFFD exactly as
 * {@code new String(bytes, UTF_8)} does; special ids are left out of both decodes.
 */
public final class ByteTokenizer implements Tokenizer {

    public static final String NAME = "byte";
    public static final int END_OF_TEXT = 256;
    public static final int PADDING = 257;
    public static final int VOCAB_SIZE = 258;

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public int vocabSize() {
        return VOCAB_SIZE;
    }

    @Override
    public int[] encode(String text) {
        return encode(text.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public int[] encode(byte[] utf8) {
        int[] ids = new int[utf8.length];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = utf8[i] & 0xFF;
        }
        return ids;
    }

    /** The bytes of {@code ids}, special ids left out: the exact inverse of {@link #encode(byte[])}. */
    public byte[] decodeBytes(int[] ids) {
        int n = 0;
        for (int id : ids) {
            if (id < 0 || id >= VOCAB_SIZE) {
                throw new IllegalArgumentException("token id " + id + " is outside the byte tokenizer's range 0.."
                        + (VOCAB_SIZE - 1));
            }
            if (id < 256) {
                n++;
            }
        }
        byte[] bytes = new byte[n];
        int at = 0;
        for (int id : ids) {
            if (id < 256) {
                bytes[at++] = (byte) id;
            }
        }
        return bytes;
    }

    @Override
    public String decode(int[] ids) {
        return new String(decodeBytes(ids), StandardCharsets.UTF_8);
    }

    @Override
    public OptionalInt separatorId() {
        return OptionalInt.of(END_OF_TEXT);
    }

    @Override
    public void close() {
        // holds nothing
    }

    @Override
    public String toString() {
        return NAME;
    }
}
