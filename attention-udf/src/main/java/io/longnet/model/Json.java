package io.longnet.model;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The small part of JSON this package reads and writes: the model config and safetensors headers.
 * Hand-written because {@code io.longnet.model} may depend on nothing outside the JDK (Jackson arrives
 * only through Spark, as {@code provided}). Strict: duplicate keys, trailing content, {@code NaN} and
 * leading zeros are errors; nesting is capped so a hostile header cannot overflow the stack.
 *
 * <p>Values map to {@link Map} (insertion-ordered), {@link List}, {@link String}, {@link Long} (numbers
 * without fraction or exponent), {@link Double} (the other numbers), {@link Boolean} and {@code null}.
 */
public final class Json {

    /** Deeper nesting than any header or config needs; beyond it the input is rejected. */
    private static final int MAX_DEPTH = 64;

    private final String text;
    private int at;

    private Json(String text) {
        this.text = text;
    }

    /**
     * Parses one JSON value that makes up all of {@code text} (surrounding whitespace allowed).
     *
     * @throws IllegalArgumentException with the character offset, line and column of the problem
     */
    public static Object parse(String text) {
        Json p = new Json(text);
        p.skipSpace();
        Object value = p.value(0);
        p.skipSpace();
        if (p.at < text.length()) {
            throw p.error("unexpected " + p.describe() + " after the JSON value");
        }
        return value;
    }

    private Object value(int depth) {
        if (depth > MAX_DEPTH) {
            throw error("nested more than " + MAX_DEPTH + " levels deep");
        }
        if (at >= text.length()) {
            throw error("unexpected end of input, expected a value");
        }
        char c = text.charAt(at);
        switch (c) {
            case '{':
                return object(depth);
            case '[':
                return array(depth);
            case '"':
                return string();
            case 't':
                literal("true");
                return Boolean.TRUE;
            case 'f':
                literal("false");
                return Boolean.FALSE;
            case 'n':
                literal("null");
                return null;
            default:
                if (c == '-' || (c >= '0' && c <= '9')) {
                    return number();
                }
                throw error("unexpected " + describe() + ", expected a value");
        }
    }

    private Map<String, Object> object(int depth) {
        at++; // '{'
        Map<String, Object> out = new LinkedHashMap<>();
        skipSpace();
        if (peek() == '}') {
            at++;
            return out;
        }
        while (true) {
            skipSpace();
            if (peek() != '"') {
                throw error("unexpected " + describe() + ", expected a key in double quotes");
            }
            int keyAt = at;
            String key = string();
            skipSpace();
            expect(':');
            skipSpace();
            Object v = value(depth + 1);
            if (out.containsKey(key)) {
                at = keyAt;
                throw error("key \"" + key + "\" appears twice");
            }
            out.put(key, v);
            skipSpace();
            char c = peek();
            if (c == ',') {
                at++;
            } else if (c == '}') {
                at++;
                return out;
            } else {
                throw error("unexpected " + describe() + ", expected ',' or '}'");
            }
        }
    }

    private List<Object> array(int depth) {
        at++; // '['
        List<Object> out = new ArrayList<>();
        skipSpace();
        if (peek() == ']') {
            at++;
            return out;
        }
        while (true) {
            skipSpace();
            out.add(value(depth + 1));
            skipSpace();
            char c = peek();
            if (c == ',') {
                at++;
            } else if (c == ']') {
                at++;
                return out;
            } else {
                throw error("unexpected " + describe() + ", expected ',' or ']'");
            }
        }
    }

    private String string() {
        int start = at;
        at++; // opening quote
        StringBuilder sb = new StringBuilder();
        while (true) {
            if (at >= text.length()) {
                at = start;
                throw error("string is not closed");
            }
            char c = text.charAt(at++);
            if (c == '"') {
                return sb.toString();
            }
            if (c < 0x20) {
                at--;
                throw error("control character U+" + String.format("%04X", (int) c) + " in a string (escape it)");
            }
            if (c != '\\') {
                sb.append(c);
                continue;
            }
            if (at >= text.length()) {
                throw error("string is not closed");
            }
            char e = text.charAt(at++);
            switch (e) {
                case '"': sb.append('"'); break;
                case '\\': sb.append('\\'); break;
                case '/': sb.append('/'); break;
                case 'b': sb.append('\b'); break;
                case 'f': sb.append('\f'); break;
                case 'n': sb.append('\n'); break;
                case 'r': sb.append('\r'); break;
                case 't': sb.append('\t'); break;
                case 'u':
                    if (at + 4 > text.length()) {
                        throw error("incomplete \\u escape");
                    }
                    int code = 0;
                    for (int i = 0; i < 4; i++) {
                        int digit = Character.digit(text.charAt(at + i), 16);
                        if (digit < 0) {
                            throw error("bad \\u escape: expected 4 hex digits");
                        }
                        code = code * 16 + digit;
                    }
                    at += 4;
                    sb.append((char) code);
                    break;
                default:
                    at--;
                    throw error("unknown escape \\" + e);
            }
        }
    }

    private Object number() {
        int start = at;
        if (peek() == '-') {
            at++;
        }
        if (peek() == '0') {
            at++;
            if (isDigit(peek())) {
                throw error("number with a leading zero");
            }
        } else if (isDigit(peek())) {
            while (isDigit(peek())) {
                at++;
            }
        } else {
            throw error("'-' not followed by a digit");
        }
        boolean integral = true;
        if (peek() == '.') {
            integral = false;
            at++;
            if (!isDigit(peek())) {
                throw error("expected a digit after the decimal point");
            }
            while (isDigit(peek())) {
                at++;
            }
        }
        if (peek() == 'e' || peek() == 'E') {
            integral = false;
            at++;
            if (peek() == '+' || peek() == '-') {
                at++;
            }
            if (!isDigit(peek())) {
                throw error("expected a digit in the exponent");
            }
            while (isDigit(peek())) {
                at++;
            }
        }
        String lexeme = text.substring(start, at);
        if (integral) {
            try {
                return Long.parseLong(lexeme);
            } catch (NumberFormatException e) {
                at = start;
                throw error("integer " + lexeme + " is out of range");
            }
        }
        double d = Double.parseDouble(lexeme);
        if (Double.isInfinite(d)) {
            at = start;
            throw error("number " + lexeme + " is out of range");
        }
        return d;
    }

    private void literal(String word) {
        if (!text.startsWith(word, at)) {
            throw error("unexpected " + describe() + ", expected a value");
        }
        at += word.length();
    }

    private void expect(char c) {
        if (peek() != c) {
            throw error("unexpected " + describe() + ", expected '" + c + "'");
        }
        at++;
    }

    private char peek() {
        return at < text.length() ? text.charAt(at) : '\0';
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    private void skipSpace() {
        while (at < text.length()) {
            char c = text.charAt(at);
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                return;
            }
            at++;
        }
    }

    private String describe() {
        if (at >= text.length()) {
            return "end of input";
        }
        char c = text.charAt(at);
        return c < 0x20 ? "character U+" + String.format("%04X", (int) c) : "'" + c + "'";
    }

    private IllegalArgumentException error(String what) {
        int line = 1;
        int column = 1;
        for (int i = 0; i < at && i < text.length(); i++) {
            if (text.charAt(i) == '\n') {
                line++;
                column = 1;
            } else {
                column++;
            }
        }
        return new IllegalArgumentException(what + " at character " + at + " (line " + line + ", column "
                + column + ")");
    }

    /** {@code s} as a JSON string literal, with quotes and the escapes JSON requires. */
    static String quote(String s) {
        StringBuilder sb = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': sb.append("\\\""); break;
                case '\\': sb.append("\\\\"); break;
                case '\n': sb.append("\\n"); break;
                case '\r': sb.append("\\r"); break;
                case '\t': sb.append("\\t"); break;
                default:
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
            }
        }
        return sb.append('"').toString();
    }

    /** A JSON type name for messages: object, array, string, number, boolean or null. */
    static String typeName(Object v) {
        if (v == null) {
            return "null";
        }
        if (v instanceof Map) {
            return "an object";
        }
        if (v instanceof List) {
            return "an array";
        }
        if (v instanceof String) {
            return "a string";
        }
        if (v instanceof Boolean) {
            return "a boolean";
        }
        return "a number";
    }
}
