package io.longnet.notebooks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs every note {@code notebooks/*.zpln} as Zeppelin would: its {@code %spark} paragraphs through the
 * Scala 2.13 interpreter and its {@code %sql} paragraphs through {@code spark.sql}, in order, against one
 * {@code local[2]} SparkSession with the project's classes; any paragraph that fails to compile, throws,
 * or names a missing table fails the note, naming note and paragraph. Notes share one interpreter (as in
 * Zeppelin's default "shared" interpreter binding) and run in file-name order.
 * <p>
 * What Zeppelin binds, the test binds: {@code spark}, {@code sc}, and a stand-in for {@code z} whose
 * {@code show(df)} prints the first 1000 rows in Zeppelin's {@code %table} text (so the frame is computed).
 * The notes read their scratch folder from {@code spark.longnet.work}, set here to a temporary folder, and
 * find the project from the working directory ({@code notebooks/}, surefire's), their default.
 */
class NotebooksTest {

    /** Rows a %sql paragraph or z.show computes, as Zeppelin's zeppelin.spark.maxResult default. */
    private static final int MAX_RESULT = 1000;

    /** Rows of a %sql result the test log shows. */
    private static final int SHOWN_ROWS = 40;

    private static final String PREAMBLE = """
            val spark = org.apache.spark.sql.SparkSession.builder().getOrCreate()
            val sc = spark.sparkContext
            object z {
              def show(df: org.apache.spark.sql.Dataset[_], maxResult: Int = %d): Unit = {
                val rows = df.toDF().take(maxResult)
                println("%%table " + df.columns.mkString("\\t"))
                rows.foreach(r => println(r.toSeq.map(String.valueOf).mkString("\\t")))
              }
            }
            """.formatted(MAX_RESULT);

    @TempDir
    static Path temp;

    private static SparkSession spark;
    private static ScalaParagraphs scala;

    @BeforeAll
    static void start() throws IOException {
        Path classes = Files.createDirectories(temp.resolve("repl-classes"));
        spark = SparkSession.builder()
                .master("local[2]")
                .appName("notebooks")
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1")
                .config("spark.ui.enabled", "false")
                .config("spark.sql.shuffle.partitions", "4")
                .config("spark.repl.class.outputDir", classes.toString())
                .config("spark.longnet.work", Files.createDirectories(temp.resolve("work")).toString())
                .getOrCreate();
        scala = new ScalaParagraphs(classes);
        assertNull(scala.run(PREAMBLE), "the z stand-in and the bindings");
    }

    @AfterAll
    static void stop() {
        if (scala != null) {
            scala.close();
        }
        if (spark != null) {
            spark.stop();
        }
    }

    static List<ZeppelinNote> notes() throws IOException {
        List<ZeppelinNote> notes = new ArrayList<>();
        try (Stream<Path> files = Files.list(Path.of("").toAbsolutePath())) {
            for (Path f : files.filter(p -> p.getFileName().toString().endsWith(".zpln")).sorted().toList()) {
                notes.add(ZeppelinNote.read(f));
            }
        }
        return notes;
    }

    @Test
    void theNotesAreThereAndWellFormed() throws IOException {
        List<ZeppelinNote> notes = notes();
        assertEquals(List.of("dilated-pattern.zpln", "quickstart.zpln", "scaling.zpln"),
                notes.stream().map(n -> n.file().getFileName().toString()).toList());
        Set<String> noteIds = new HashSet<>();
        Set<String> paragraphIds = new HashSet<>();
        for (ZeppelinNote note : notes) {
            assertTrue(Pattern.matches("[A-Z0-9]{9}", note.id()), note.file() + ": id " + note.id());
            assertTrue(noteIds.add(note.id()), "note id " + note.id() + " used twice");
            List<ZeppelinNote.Paragraph> ps = note.paragraphs();
            assertEquals(ZeppelinNote.Kind.MARKDOWN, ps.get(0).kind(), note.file() + " opens with a %md paragraph");
            assertTrue(ps.stream().filter(p -> p.kind() == ZeppelinNote.Kind.MARKDOWN).count() >= 3,
                    note.file() + ": markdown explains what the note shows");
            assertTrue(ps.stream().anyMatch(p -> p.kind() == ZeppelinNote.Kind.SQL), note.file() + " has %sql");
            for (ZeppelinNote.Paragraph p : ps) {
                assertFalse(p.code().isBlank(), note.file() + ", " + p.label() + " is empty");
                assertTrue(paragraphIds.add(p.id()), note.file() + ", " + p.label() + ": id " + p.id() + " used twice");
            }
        }
    }

    /** The dilated-pattern note draws the attention probe: a paragraph calls it, and its result is charted. */
    @Test
    void dilatedPatternNoteDrawsTheAttentionProbe() throws IOException {
        ZeppelinNote note = notes().stream().filter(n -> n.file().getFileName().toString().equals("dilated-pattern.zpln"))
                .findFirst().orElseThrow();
        assertTrue(note.paragraphs().stream().anyMatch(p -> p.code().contains("longnet_attention_probe(")),
                "a paragraph calls longnet_attention_probe");
        assertTrue(note.paragraphs().stream().filter(p -> p.kind() == ZeppelinNote.Kind.SQL)
                .filter(p -> p.code().contains("FROM probes")).count() >= 2, "its weights and keys are drawn");
    }

    @TestFactory
    Stream<DynamicTest> everyNoteRuns() throws IOException {
        return notes().stream().map(n -> DynamicTest.dynamicTest(n.file().getFileName().toString(), () -> run(n)));
    }

    private static void run(ZeppelinNote note) {
        String where = "note '" + note.name() + "' (" + note.file().getFileName() + "), ";
        for (ZeppelinNote.Paragraph p : note.paragraphs()) {
            long t0 = System.nanoTime();
            if (p.kind() != ZeppelinNote.Kind.MARKDOWN) {
                System.out.println("== " + note.file().getFileName() + ", " + p.label());
            }
            switch (p.kind()) {
                case MARKDOWN -> {
                    continue;
                }
                case SCALA -> {
                    String error = scala.run(p.code());
                    if (error != null) {
                        fail(where + p.label() + ": " + error);
                    }
                }
                case SQL -> {
                    for (String statement : statements(p.code())) {
                        try {
                            Dataset<Row> result = spark.sql(statement);
                            print(result.columns(), result.takeAsList(MAX_RESULT));
                        } catch (Exception e) { // AnalysisException is a checked exception (Scala does not declare it)
                            fail(where + p.label() + ": " + e.getMessage() + "\n" + statement, e);
                        }
                    }
                }
                default -> throw new IllegalStateException(p.kind().toString());
            }
            System.out.printf(Locale.ROOT, "(%.1f s)%n", (System.nanoTime() - t0) / 1e9);
        }
    }

    /** The head of a result in Zeppelin's %table text, for the test log. */
    private static void print(String[] columns, List<Row> rows) {
        if (columns.length == 0) {
            return;
        }
        System.out.println("%table " + String.join("\t", columns));
        for (Row r : rows.subList(0, Math.min(rows.size(), SHOWN_ROWS))) {
            System.out.println(r.mkString("\t"));
        }
        if (rows.size() > SHOWN_ROWS) {
            System.out.println("... " + (rows.size() - SHOWN_ROWS) + " more row(s)");
        }
    }

    /** Statements of a %sql paragraph: Zeppelin runs each, split at a ';' that ends a line. */
    static List<String> statements(String code) {
        List<String> out = new ArrayList<>();
        for (String s : code.split(";[ \\t]*(\\r?\\n|$)")) {
            if (!s.isBlank()) {
                out.add(s.strip());
            }
        }
        return out;
    }
}
