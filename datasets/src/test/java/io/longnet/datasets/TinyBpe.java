package io.longnet.datasets;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Builds a small byte-level BPE {@code tokenizer.json} (the GPT-2 layout), written for these tests:
 * <ul>
 *   <li>ids 0..255: the single bytes, id = byte value, spelled with GPT-2's byte-to-character map
 *       ({@link #byteChar}: printable Latin-1 bytes stand for themselves, the others are shifted to
 *       U+0100 and up, so that space is {@code Ġ});</li>
 *   <li>ids 256..{@value #LAST_MERGE}: one per merge of {@link #MERGES}, in rank order;</li>
 *   <li>{@value #END_OF_TEXT}: {@code <|endoftext|>}, a special added token.</li>
 * </ul>
 * With these merges, by hand: {@code "hello"} is h e l l o → he l l o (rank 0) → he ll o (1) → hell o (2)
 * → hello (3) = [259]; {@code " world"} is Ġ w o r l d → Ġw o r l d (4) → Ġw or l d (5) → Ġwor l d (6) →
 * Ġwor ld (7) = [262, 263]; {@code "!"} has no merge = [33]; {@code " café"} is Ġ c a f Ã © (é is C3 A9)
 * with no merge = [32, 99, 97, 102, 195, 169].
 */
final class TinyBpe {

    static final List<String[]> MERGES = List.of(
            new String[] {"h", "e"},        // 256 he
            new String[] {"l", "l"},        // 257 ll
            new String[] {"he", "ll"},      // 258 hell
            new String[] {"hell", "o"},     // 259 hello
            new String[] {"Ġ", "w"},        // 260 Ġw
            new String[] {"o", "r"},        // 261 or
            new String[] {"Ġw", "or"},      // 262 Ġwor
            new String[] {"l", "d"});       // 263 ld
    static final int LAST_MERGE = 263;
    static final int END_OF_TEXT = 264;
    static final int VOCAB_SIZE = 265;

    private TinyBpe() {
    }

    /** GPT-2's printable stand-in for a byte. */
    static String byteChar(int b) {
        boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        if (printable) {
            return String.valueOf((char) b);
        }
        // The non-printable bytes, in increasing order, take U+0100, U+0101, ...
        int rank = 0;
        for (int c = 0; c < b; c++) {
            boolean p = (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF);
            if (!p) {
                rank++;
            }
        }
        return String.valueOf((char) (256 + rank));
    }

    static String json() {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        ObjectNode eot = added.addObject();
        eot.put("id", END_OF_TEXT);
        eot.put("content", "<|endoftext|>");
        eot.put("single_word", false);
        eot.put("lstrip", false);
        eot.put("rstrip", false);
        eot.put("normalized", false);
        eot.put("special", true);
        root.putNull("normalizer");
        ObjectNode pre = root.putObject("pre_tokenizer");
        pre.put("type", "ByteLevel");
        pre.put("add_prefix_space", false);
        pre.put("trim_offsets", true);
        pre.put("use_regex", true);
        ObjectNode post = root.putObject("post_processor");
        post.put("type", "ByteLevel");
        post.put("add_prefix_space", true);
        post.put("trim_offsets", false);
        post.put("use_regex", true);
        ObjectNode decoder = root.putObject("decoder");
        decoder.put("type", "ByteLevel");
        decoder.put("add_prefix_space", true);
        decoder.put("trim_offsets", true);
        decoder.put("use_regex", true);
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("unk_token");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        ObjectNode vocab = model.putObject("vocab");
        for (int b = 0; b < 256; b++) {
            vocab.put(byteChar(b), b);
        }
        for (int i = 0; i < MERGES.size(); i++) {
            vocab.put(MERGES.get(i)[0] + MERGES.get(i)[1], 256 + i);
        }
        ArrayNode merges = model.putArray("merges");
        for (String[] m : MERGES) {
            merges.add(m[0] + " " + m[1]);
        }
        return root.toPrettyString();
    }

    static Path write(Path dir) throws IOException {
        Path file = dir.resolve("tokenizer.json");
        Files.writeString(file, json());
        return file;
    }
}
