package io.longnet.datasets;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * UTF-8 bytes decoded to text, each invalid sequence replaced by U+FFFD and counted. The text equals
 * {@code new String(bytes, UTF_8)} (the same replacement rule); {@code replaced} is how many
 * replacement characters that inserted.
 *
 * @param text     the decoded text
 * @param replaced invalid UTF-8 sequences replaced by U+FFFD (0 for valid input)
 */
public record Utf8Text(String text, int replaced) {

    private static final char REPLACEMENT = '\uFFFD';

    /** Decodes {@code bytes[offset, offset + length)}. */
    public static Utf8Text decode(byte[] bytes, int offset, int length) {
        String fast = new String(bytes, offset, length, StandardCharsets.UTF_8);
        // The JDK's decoder is much faster than a CharsetDecoder loop; only text that holds U+FFFD (either
        // replaced or genuinely there) is decoded a second time to count the replacements.
        if (fast.indexOf(REPLACEMENT) < 0) {
            return new Utf8Text(fast, 0);
        }
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes, offset, length);
        // UTF-8 never needs more UTF-16 chars than bytes, and a replacement takes one char for >= 1 byte.
        CharBuffer out = CharBuffer.allocate(length);
        int replaced = 0;
        while (true) {
            CoderResult r = decoder.decode(in, out, true);
            if (r.isError()) {
                out.put(REPLACEMENT);
                in.position(in.position() + r.length());
                replaced++;
            } else if (r.isUnderflow()) {
                break;
            } else {
                throw new IllegalStateException("UTF-8 decoding overflowed its buffer: " + r);
            }
        }
        decoder.flush(out);
        out.flip();
        return new Utf8Text(out.toString(), replaced);
    }

    /**
     * How many of the bytes {@code bytes[offset, offset + length)} lie in invalid UTF-8 sequences. A
     * character cut by the end of the range counts as valid: the range may be the start of a longer text.
     */
    public static int invalidBytes(byte[] bytes, int offset, int length) {
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes, offset, length);
        CharBuffer out = CharBuffer.allocate(Math.max(16, length));
        int invalid = 0;
        while (true) {
            CoderResult r = decoder.decode(in, out, false);
            if (r.isError()) {
                invalid += r.length();
                in.position(in.position() + r.length());
            } else if (r.isUnderflow()) {
                return invalid;
            } else {
                throw new IllegalStateException("UTF-8 decoding overflowed its buffer: " + r);
            }
        }
    }
}
