package io.longnet.datasets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The tokenizer.json path through DJL, against ids worked out by hand from {@link TinyBpe}'s merges. */
class HuggingFaceTokenizerTest {

    @TempDir
    Path dir;

    private Tokenizer open() throws IOException {
        return Tokenizers.open(TinyBpe.write(dir).toString());
    }

    @Test
    void encodesAFixedStringToTheIdsTheMergesGive() throws IOException {
        try (Tokenizer t = open()) {
            assertInstanceOf(HuggingFaceTokenizer.class, t);
            // hello | Ġwor ld | ! | Ġ c a f Ã © : see TinyBpe for the merges, step by step.
            int[] want = {259, 262, 263, 33, 32, 99, 97, 102, 195, 169};
            assertArrayEquals(want, t.encode("hello world! café"));
            assertEquals("hello world! café", t.decode(want));
        }
    }

    @Test
    void knowsItsVocabularyAndSeparator() throws IOException {
        try (Tokenizer t = open()) {
            assertEquals(TinyBpe.VOCAB_SIZE, t.vocabSize());
            assertEquals(TinyBpe.END_OF_TEXT, t.separatorId().getAsInt());
            assertTrue(t.name().endsWith("tokenizer.json"), t.name());
        }
    }

    @Test
    void specialTokenInTextIsOneIdAndLeftOutOfDecoding() throws IOException {
        try (Tokenizer t = open()) {
            int[] ids = t.encode("hello world<|endoftext|>hello");
            assertArrayEquals(new int[] {259, 262, 263, TinyBpe.END_OF_TEXT, 259}, ids);
            assertEquals("hello worldhello", t.decode(ids));
        }
    }

    @Test
    void invalidUtf8BytesAreEncodedAsTheReplacementCharacter() throws IOException {
        try (Tokenizer t = open()) {
            byte[] bytes = {'c', 'a', 'f', (byte) 0xFF};
            // "caf" has no merge; U+FFFD is EF BF BD in UTF-8, one id per byte.
            assertArrayEquals(new int[] {99, 97, 102, 0xEF, 0xBF, 0xBD}, t.encode(bytes));
        }
    }

    @Test
    void longTextsAreNotTruncated() throws IOException {
        // DJL alone truncates to 512 tokens; a corpus document must keep every token.
        String text = "hello world ".repeat(3000);
        try (Tokenizer t = open()) {
            int[] ids = t.encode(text);
            // "hello" = 259, " world" = 262 263, then " hello" (Ġ h e l l o: no merge starts with Ġ h) ...
            assertTrue(ids.length > 3000 * 3, "got " + ids.length + " tokens");
            assertEquals(text, t.decode(ids));
        }
    }

    @Test
    void keepsDjlOffTheNetwork() throws IOException {
        try (Tokenizer t = open()) {
            assertArrayEquals(new int[] {259}, t.encode("hello"));
            // Without RUST_FLAVOR=cpu, DJL downloads a CUDA build of its library on GPU machines (seen on an
            // H100 with no network: "Cannot download jni files: https://publish.djl.ai/...cu122-90/...").
            if (System.getenv("RUST_FLAVOR") == null) {
                assertEquals("cpu", System.getProperty("RUST_FLAVOR"));
            }
            if (System.getenv("OPT_OUT_TRACKING") == null) {
                assertEquals("true", System.getProperty("OPT_OUT_TRACKING"));
            }
        }
    }

    @Test
    void aFolderHoldingTokenizerJsonOpensToo() throws IOException {
        TinyBpe.write(dir);
        try (Tokenizer t = Tokenizers.open(dir.toString())) {
            assertArrayEquals(new int[] {259}, t.encode("hello"));
        }
    }

    @Test
    void byteIsTheDefault() throws IOException {
        for (String spec : new String[] {null, "", " byte "}) {
            try (Tokenizer t = Tokenizers.open(spec)) {
                assertInstanceOf(ByteTokenizer.class, t);
            }
        }
    }

    @Test
    void badFilesFailWithAMessageNamingThem() throws IOException {
        Path missing = dir.resolve("nope.json");
        FileNotFoundException nf = assertThrows(FileNotFoundException.class, () -> Tokenizers.open(missing.toString()));
        assertTrue(nf.getMessage().contains("nope.json"), nf.getMessage());

        Path notJson = Files.writeString(dir.resolve("bad.json"), "{ not json");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Tokenizers.source(notJson.toString(), new org.apache.hadoop.conf.Configuration()));
        assertTrue(e.getMessage().contains("bad.json"), e.getMessage());

        Path noModel = Files.writeString(dir.resolve("nomodel.json"), "{\"version\": \"1.0\"}");
        e = assertThrows(IllegalArgumentException.class, () -> Tokenizers.open(noModel.toString()));
        assertTrue(e.getMessage().contains("nomodel.json"), e.getMessage());

        // Valid JSON with a model the Rust library rejects (merges naming tokens not in the vocabulary).
        String broken = TinyBpe.json().replace("\"h e\"", "\"qq zz\"");
        Path rejected = Files.write(dir.resolve("rejected.json"), broken.getBytes(StandardCharsets.UTF_8));
        e = assertThrows(IllegalArgumentException.class, () -> Tokenizers.open(rejected.toString()));
        assertTrue(e.getMessage().contains("rejected.json"), e.getMessage());
    }

    @Test
    void decodeRejectsIdsOutsideTheVocabulary() throws IOException {
        try (Tokenizer t = open()) {
            assertThrows(IllegalArgumentException.class, () -> t.decode(new int[] {TinyBpe.VOCAB_SIZE}));
        }
    }
}
