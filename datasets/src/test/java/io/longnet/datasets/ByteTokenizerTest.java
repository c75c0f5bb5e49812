package io.longnet.datasets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ByteTokenizerTest {

    private final ByteTokenizer tokenizer = new ByteTokenizer();

    /** Random bytes, lengths 0..4096, ASCII-heavy in some seeds and uniform in others. */
    static byte[] randomBytes(long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        byte[] b = new byte[rnd.nextInt(4097)];
        boolean ascii = seed % 2 == 0;
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) (ascii && rnd.nextInt(8) > 0 ? 32 + rnd.nextInt(95) : rnd.nextInt(256));
        }
        return b;
    }

    @Test
    void roundTripsArbitraryBytesExactly() {
        for (long seed = 0; seed < 200; seed++) {
            byte[] bytes = randomBytes(seed);
            int[] ids = tokenizer.encode(bytes);
            assertEquals(bytes.length, ids.length, "seed " + seed);
            for (int i = 0; i < ids.length; i++) {
                assertEquals(bytes[i] & 0xFF, ids[i], "seed " + seed + " position " + i);
            }
            assertArrayEquals(bytes, tokenizer.decodeBytes(ids), "seed " + seed);
            // The text decode is the JDK's UTF-8 decode, invalid sequences as U+FFFD.
            assertEquals(new String(bytes, StandardCharsets.UTF_8), tokenizer.decode(ids), "seed " + seed);
        }
    }

    @Test
    void stringsAreTheirUtf8Bytes() {
        String text = "naïve café, 東京, Ελλάδα, 🌧️ and \uFFFD itself";
        int[] ids = tokenizer.encode(text);
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        assertEquals(utf8.length, ids.length);
        assertArrayEquals(tokenizer.encode(utf8), ids);
        assertEquals(text, tokenizer.decode(ids));
    }

    @Test
    void specialIdsAreDocumentedAndLeftOutOfDecoding() {
        assertEquals(258, tokenizer.vocabSize());
        assertEquals(256, tokenizer.separatorId().getAsInt());
        int[] ids = {'a', ByteTokenizer.END_OF_TEXT, 'b', ByteTokenizer.PADDING, 'c'};
        assertEquals("abc", tokenizer.decode(ids));
        assertArrayEquals(new byte[] {'a', 'b', 'c'}, tokenizer.decodeBytes(ids));
    }

    @ParameterizedTest
    @ValueSource(ints = {-1, 258, 1 << 20})
    void rejectsIdsOutsideTheVocabulary(int id) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> tokenizer.decode(new int[] {65, id}));
        assertTrue(e.getMessage().contains(Integer.toString(id)), e.getMessage());
    }

    @Test
    void utf8TextCountsReplacementsLikeTheJdkDecodes() {
        for (long seed = 0; seed < 200; seed++) {
            byte[] bytes = randomBytes(seed);
            // No 0xEF byte, so no genuine U+FFFD (EF BF BD) can occur: every U+FFFD is a replacement.
            for (int i = 0; i < bytes.length; i++) {
                if (bytes[i] == (byte) 0xEF) {
                    bytes[i] = 'x';
                }
            }
            String reference = new String(bytes, StandardCharsets.UTF_8);
            int expected = 0;
            for (int i = 0; i < reference.length(); i++) {
                expected += reference.charAt(i) == '\uFFFD' ? 1 : 0;
            }
            Utf8Text got = Utf8Text.decode(bytes, 0, bytes.length);
            assertEquals(reference, got.text(), "seed " + seed);
            assertEquals(expected, got.replaced(), "seed " + seed);
        }
    }

    @Test
    void utf8TextKeepsAGenuineReplacementCharacterUncounted() {
        byte[] bytes = "a\uFFFDb".getBytes(StandardCharsets.UTF_8);
        assertEquals(new Utf8Text("a\uFFFDb", 0), Utf8Text.decode(bytes, 0, bytes.length));
        byte[] mixed = {'a', (byte) 0xEF, (byte) 0xBF, (byte) 0xBD, (byte) 0xC3, 'b', (byte) 0xF0, (byte) 0x9F};
        // A lone lead byte C3 before 'b', and a truncated 4-byte sequence at the end: two replacements.
        assertEquals(new Utf8Text("a\uFFFD\uFFFDb\uFFFD", 2), Utf8Text.decode(mixed, 0, mixed.length));
        assertEquals(new Utf8Text("\uFFFDb", 1), Utf8Text.decode(mixed, 4, 2));
    }
}
