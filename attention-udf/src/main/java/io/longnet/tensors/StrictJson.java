package io.longnet.tensors;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;

/**
 * The project's JSON files (model config, checkpoint state, safetensors headers, dataset manifests) read
 * and written through Jackson, configured once: duplicate keys and trailing content are errors rather than
 * "last one wins" or ignored, and problems are told as one line with where they are.
 */
public final class StrictJson {

    // Configured here and never changed afterwards, so safe to share between threads.
    private static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    /** Two-space indents, {@code "key": value}, '\n' on every platform: the form of config.json. */
    private static final DefaultPrettyPrinter PRETTY = new DefaultPrettyPrinter()
            .withSeparators(Separators.createDefaultInstance()
                    .withObjectFieldValueSpacing(Separators.Spacing.AFTER))
            .withObjectIndenter(new DefaultIndenter("  ", "\n"));

    private StrictJson() {
    }

    /** An empty object to fill and write. */
    public static ObjectNode object() {
        return MAPPER.createObjectNode();
    }

    /**
     * Parses one JSON value that makes up all of {@code text}.
     *
     * @throws IllegalArgumentException saying what is wrong and where ("... at character 18 (line 1, column 19)")
     */
    public static JsonNode parse(String text) {
        try {
            JsonNode node = MAPPER.readTree(text);
            if (node == null || node.isMissingNode()) {
                throw new IllegalArgumentException("no JSON value (empty text)");
            }
            return node;
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(problem(e), e);
        }
    }

    /** As {@link #parse(String)} for UTF-8 bytes, leaving Jackson's exception to the caller. */
    public static JsonNode readTree(byte[] utf8) throws IOException {
        return MAPPER.readTree(utf8);
    }

    /** Jackson's message without its source excerpt, then where: "... at character C (line L, column K)". */
    public static String problem(JsonProcessingException e) {
        // Jackson names other places as "[Source: REDACTED (...); line: 1, column: 1]": keep the line and column.
        String what = e.getOriginalMessage().replaceAll("\\[Source: [^;]*; line: (\\d+), column: (\\d+)\\]",
                "line $1, column $2");
        JsonLocation at = e.getLocation();
        if (at == null) {
            return what;
        }
        long offset = at.getCharOffset() >= 0 ? at.getCharOffset() : at.getByteOffset();
        return what + " at character " + offset + " (line " + at.getLineNr() + ", column "
                + at.getColumnNr() + ")";
    }

    /** {@code node} compact, as one line. */
    public static String compact(JsonNode node) {
        try {
            return MAPPER.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a JSON tree did not serialize", e);
        }
    }

    /**
     * {@code value} (a tree, or a record whose {@code @JsonProperty} names and {@code @JsonPropertyOrder} say
     * how it is written) pretty-printed: two-space indents, {@code "key": value}, no final newline.
     */
    public static String pretty(Object value) {
        try {
            return MAPPER.writer(PRETTY).writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a JSON value did not serialize", e);
        }
    }

    /**
     * {@code value} (as for {@link #pretty}) as Jackson's default pretty printer writes it ({@code "key" : value}):
     * the dataset manifests' form.
     */
    public static String defaultPretty(Object value) {
        try {
            return MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a JSON value did not serialize", e);
        }
    }

    /** A JSON type name for messages: an object, an array, a string, a number, a boolean or null. */
    public static String typeName(JsonNode v) {
        if (v == null || v.isNull() || v.isMissingNode()) {
            return "null";
        }
        if (v.isObject()) {
            return "an object";
        }
        if (v.isArray()) {
            return "an array";
        }
        if (v.isTextual()) {
            return "a string";
        }
        if (v.isBoolean()) {
            return "a boolean";
        }
        return "a number";
    }
}
