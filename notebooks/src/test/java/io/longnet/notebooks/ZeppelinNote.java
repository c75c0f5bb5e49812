package io.longnet.notebooks;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A Zeppelin note as the {@code .zpln} file Zeppelin 0.10+ exports and imports holds it: a JSON object
 * with {@code name}, {@code id} and {@code paragraphs}, each paragraph's {@code text} starting with its
 * interpreter ({@code %md}, {@code %spark}, {@code %sql}, ...; none: the note's default, here Scala).
 */
record ZeppelinNote(Path file, String name, String id, List<Paragraph> paragraphs) {

    /** What runs a paragraph; only the kinds the notes may use (a new kind needs a runner in the test). */
    enum Kind { MARKDOWN, SCALA, SQL }

    /** Paragraph {@code number} (from 1) of a note, its code without the interpreter line. */
    record Paragraph(int number, String id, String title, Kind kind, String code) {

        /** How a failure names it: number, and title when it has one. */
        String label() {
            return "paragraph " + number + (title.isBlank() ? "" : " '" + title + "'");
        }
    }

    static ZeppelinNote read(Path file) throws IOException {
        JsonNode root = new ObjectMapper().readTree(file.toFile());
        String name = text(root, "name");
        String id = text(root, "id");
        if (name.isBlank() || id.isBlank()) {
            throw new IllegalArgumentException(file + ": a note needs a name and an id");
        }
        JsonNode list = root.path("paragraphs");
        if (!list.isArray() || list.isEmpty()) {
            throw new IllegalArgumentException(file + ": no paragraphs");
        }
        List<Paragraph> paragraphs = new ArrayList<>();
        for (JsonNode p : list) {
            int number = paragraphs.size() + 1;
            String text = text(p, "text");
            String trimmed = text.stripLeading();
            String directive = "";
            String code = text;
            if (trimmed.startsWith("%")) {
                int end = 0;
                while (end < trimmed.length() && !Character.isWhitespace(trimmed.charAt(end))) {
                    end++;
                }
                directive = trimmed.substring(1, end).toLowerCase(Locale.ROOT);
                code = trimmed.substring(end);
            }
            Kind kind = switch (directive) {
                case "", "spark", "spark.spark" -> Kind.SCALA;
                case "sql", "spark.sql" -> Kind.SQL;
                case "md", "markdown" -> Kind.MARKDOWN;
                default -> throw new IllegalArgumentException(file + ", paragraph " + number + ": interpreter %"
                        + directive + " is not one the notes test can run (%md, %spark, %sql)");
            };
            paragraphs.add(new Paragraph(number, text(p, "id"), text(p, "title"), kind, code));
        }
        return new ZeppelinNote(file, name, id, List.copyOf(paragraphs));
    }

    private static String text(JsonNode node, String field) {
        JsonNode v = node.get(field);
        return v == null || v.isNull() ? "" : v.asText();
    }
}
