package io.longnet.datasets;

import ai.djl.huggingface.tokenizers.jni.TokenizersLibrary;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Hugging Face {@code tokenizer.json} (any model type the Rust {@code tokenizers} library reads: BPE,
 * WordPiece, Unigram, WordLevel), run by DJL's JNI binding ({@code ai.djl.huggingface:tokenizers}).
 * <p>
 * Offline: the binding's jar carries the CPU build of the native library for linux x86_64/aarch64 and
 * macOS aarch64 and extracts it to {@code ~/.djl.ai/tokenizers} (or {@code $ENGINE_CACHE_DIR/tokenizers},
 * also read as a system property; set it where the home folder is not writable, e.g. on YARN executors).
 * Two DJL defaults would reach the network, so they are changed here unless the user set them (as
 * environment variables or system properties):
 * <ul>
 *   <li>{@code RUST_FLAVOR=cpu}: on a machine with CUDA 12.2+ and an sm_80/86/89/90 GPU (our GPU
 *       executors) DJL would otherwise pick a CUDA build of the library, which the jar does not hold, and
 *       download it from publish.djl.ai; tokenizing gains nothing from a GPU;</li>
 *   <li>{@code OPT_OUT_TRACKING=true}: DJL's usage report to AWS, which first probes the EC2 metadata
 *       endpoint (up to seconds of timeouts off EC2).</li>
 * </ul>
 * Both are JVM-wide system properties that only DJL reads, set before its first use.
 * <p>
 * Encoding is the tokenizer's own: its normalizer, pre-tokenizer, model and post-processor (so special
 * tokens such as a BOS are added where the file says so), with truncation and padding off whatever the
 * file or DJL's defaults say (DJL alone would cut every text to 512 tokens). {@link #decode(int[])}
 * leaves special tokens out.
 */
public final class HuggingFaceTokenizer implements Tokenizer {

    private static final Logger LOG = LoggerFactory.getLogger(HuggingFaceTokenizer.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String OPT_OUT = "OPT_OUT_TRACKING";
    private static final String FLAVOR = "RUST_FLAVOR";
    /** End-of-text tokens in the order they are looked for, when a file names no separator of its own. */
    private static final List<String> SEPARATORS = List.of(
            "<|endoftext|>", "<|end_of_text|>", "</s>", "<eos>", "[SEP]");

    private final String name;
    private final int vocabSize;
    private final OptionalInt separator;
    private final ai.djl.huggingface.tokenizers.HuggingFaceTokenizer tokenizer;

    private HuggingFaceTokenizer(String name, int vocabSize, OptionalInt separator,
                                 ai.djl.huggingface.tokenizers.HuggingFaceTokenizer tokenizer) {
        this.name = name;
        this.vocabSize = vocabSize;
        this.separator = separator;
        this.tokenizer = tokenizer;
    }

    /**
     * Loads a {@code tokenizer.json} from its bytes.
     *
     * @param name the file as the user named it, for messages and the manifest
     * @throws IllegalArgumentException when the bytes are not a tokenizer.json the library accepts
     * @throws IllegalStateException    when the native library cannot be loaded on this machine
     */
    public static HuggingFaceTokenizer load(String name, byte[] json) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (IOException e) {
            throw new IllegalArgumentException("tokenizer " + name + " is not valid JSON: " + e.getMessage(), e);
        }
        if (root == null || !root.path("model").isObject()) {
            throw new IllegalArgumentException("tokenizer " + name + " is not a Hugging Face tokenizer.json (no"
                    + " \"model\" object); give such a file or 'byte'");
        }
        int vocabSize = vocabSize(root);
        if (vocabSize < 1) {
            throw new IllegalArgumentException("tokenizer " + name + " has an empty vocabulary");
        }
        stayOffline();
        ai.djl.huggingface.tokenizers.HuggingFaceTokenizer tokenizer;
        try {
            tokenizer = ai.djl.huggingface.tokenizers.HuggingFaceTokenizer.newInstance(
                    new ByteArrayInputStream(json),
                    Map.of("addSpecialTokens", "true", "truncation", "false", "padding", "false"));
        } catch (IOException e) {
            throw new IllegalArgumentException("tokenizer " + name + ": " + e.getMessage(), e);
        } catch (ai.djl.engine.EngineException | LinkageError e) {
            throw new IllegalStateException("could not load the Hugging Face tokenizers native library (DJL) on"
                    + " this machine (" + System.getProperty("os.name") + " " + System.getProperty("os.arch")
                    + "): " + rootMessage(e) + "; set ENGINE_CACHE_DIR to a writable folder, or use --tokenizer"
                    + " byte", e);
        } catch (RuntimeException e) {
            // The Rust side reports a file it cannot parse as a plain RuntimeException.
            throw new IllegalArgumentException("tokenizer " + name + " could not be loaded: " + rootMessage(e), e);
        }
        return new HuggingFaceTokenizer(name, vocabSize, separator(root), tokenizer);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public int vocabSize() {
        return vocabSize;
    }

    @Override
    public int[] encode(String text) {
        // Straight to the JNI calls rather than DJL's encode(String): that one also copies every token's
        // string, type id, mask and character span into Java objects, which a corpus job never reads.
        TokenizersLibrary lib = TokenizersLibrary.LIB;
        long encoding = lib.encode(tokenizer.getHandle(), text, true);
        long[] ids;
        try {
            ids = lib.getTokenIds(encoding);
        } finally {
            lib.deleteEncoding(encoding);
        }
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = (int) ids[i];
        }
        return out;
    }

    @Override
    public String decode(int[] ids) {
        long[] wide = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocabSize) {
                throw new IllegalArgumentException("token id " + ids[i] + " is outside tokenizer " + name
                        + "'s range 0.." + (vocabSize - 1));
            }
            wide[i] = ids[i];
        }
        return tokenizer.decode(wide, true);
    }

    @Override
    public OptionalInt separatorId() {
        return separator;
    }

    @Override
    public void close() {
        tokenizer.close();
    }

    @Override
    public String toString() {
        return name;
    }

    /** One more than the largest id in the model's vocabulary and the added tokens. */
    static int vocabSize(JsonNode root) {
        long max = -1;
        JsonNode vocab = root.path("model").path("vocab");
        if (vocab.isObject()) {            // BPE, WordPiece, WordLevel: token -> id
            for (Iterator<JsonNode> it = vocab.elements(); it.hasNext(); ) {
                max = Math.max(max, it.next().asLong(-1));
            }
        } else if (vocab.isArray()) {      // Unigram: [token, score] pairs, the id is the index
            max = vocab.size() - 1;
        }
        for (JsonNode added : root.path("added_tokens")) {
            max = Math.max(max, added.path("id").asLong(-1));
        }
        if (max >= Integer.MAX_VALUE) {
            throw new IllegalArgumentException("tokenizer ids reach " + max + ", beyond int range");
        }
        return (int) (max + 1);
    }

    /** The first special added token that reads as end of text, in {@link #SEPARATORS} order. */
    static OptionalInt separator(JsonNode root) {
        for (String candidate : SEPARATORS) {
            for (JsonNode added : root.path("added_tokens")) {
                if (added.path("special").asBoolean(false) && candidate.equals(added.path("content").asText())) {
                    return OptionalInt.of(added.path("id").asInt());
                }
            }
        }
        return OptionalInt.empty();
    }

    /** The DJL settings of the class comment, each only where the user has not set it. */
    private static void stayOffline() {
        setUnlessGiven(FLAVOR, "cpu");
        setUnlessGiven(OPT_OUT, "true");
    }

    private static void setUnlessGiven(String key, String value) {
        if (System.getenv(key) == null && System.getProperty(key) == null) {
            System.setProperty(key, value);
            LOG.debug("DJL setting {}={} (set it yourself to override)", key, value);
        }
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t == e ? String.valueOf(e.getMessage()) : e.getMessage() + " (" + t + ")";
    }
}
