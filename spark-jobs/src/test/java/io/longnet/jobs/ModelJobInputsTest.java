package io.longnet.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.attention.Backend;
import io.longnet.datasets.DocumentMode;
import io.longnet.datasets.TokenBlocks;
import io.longnet.datasets.TokenManifest;
import io.longnet.datasets.TokenizeOptions;
import io.longnet.model.LongNetConfig;
import io.longnet.model.LongNetModel;
import io.longnet.spark.SparkSessionExtension;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LogEvent;
import org.apache.logging.log4j.core.Logger;
import org.apache.logging.log4j.core.appender.AbstractAppender;
import org.apache.logging.log4j.core.config.Property;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * score and encode check a token dataset's document index against its manifest before any work: a missing
 * or partial index ends in one line, with nothing written; a sound one is read without a warning.
 */
class ModelJobInputsTest {

    @RegisterExtension
    static final SparkSessionExtension SPARK = new SparkSessionExtension();

    @TempDir
    Path dir;

    String tokens;
    Path model;

    @BeforeEach
    void datasetAndModel() throws IOException {
        Path corpus = Files.writeString(dir.resolve("corpus.txt"), "one line\nanother line\na third line here\nfour\n");
        tokens = dir.resolve("tokens").toUri().toString();
        // Two partitions, so that the index has a part file to lose and one to keep.
        TokenBlocks.write(SPARK.session(), corpus.toUri().toString(), tokens,
                TokenizeOptions.defaults(DocumentMode.LINE).withBlockSize(8));
        model = dir.resolve("model");
        LongNetModel.initialize(LongNetConfig.of(258, 16, 2, 1, 32, "8:1,16:2"), 5).save(model);
    }

    private String refusal(boolean encode) {
        String out = dir.resolve("out").toUri().toString();
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
        Exception e = assertThrows(Exception.class, () -> {
            if (encode) {
                EncodeJob.run(SPARK.session(), new EncodeJob.Request(tokens, model.toString(), out, null, false, 0,
                        Backend.CPU, 0, null, false), quiet);
            } else {
                ScoreJob.run(SPARK.session(), new ScoreJob.Request(tokens, model.toString(), out, false, 0, Backend.CPU,
                        0, null, false), quiet);
            }
        });
        Throwable user = Main.userError(e);
        assertTrue(user instanceof IllegalArgumentException, "a user error: " + e);
        assertEquals(1, user.getMessage().lines().count(), user.getMessage());
        assertTrue(Files.notExists(dir.resolve("out")), "nothing written");
        try (Stream<Path> left = Files.list(dir)) {
            assertEquals(List.of("corpus.txt", "model", "tokens"), left.map(p -> p.getFileName().toString()).sorted()
                    .toList(), "no temporary left beside the output");
        } catch (IOException io) {
            throw new java.io.UncheckedIOException(io);
        }
        return user.getMessage();
    }

    @Test
    void aDatasetWithoutItsDocumentIndexIsRefusedBeforeScoring() throws IOException {
        io.longnet.storage.AtomicOutput.deleteRecursively(dir.resolve("tokens").resolve(TokenManifest.DOCUMENTS));
        String want = "token dataset " + tokens + " has no document index (_documents is missing): tokenize it again";
        assertEquals(want, refusal(false));
        assertEquals(want, refusal(true));
    }

    @Test
    void aDocumentIndexMissingAPartIsRefused() throws IOException {
        Path index = dir.resolve("tokens").resolve(TokenManifest.DOCUMENTS);
        List<Path> parts;
        try (Stream<Path> s = Files.list(index)) {
            parts = s.filter(p -> p.getFileName().toString().startsWith("part-")).sorted().toList();
        }
        long kept = SPARK.session().read().parquet(parts.get(parts.size() - 1).toString()).count();
        for (Path p : parts.subList(0, parts.size() - 1)) {
            Files.delete(p);
        }
        if (parts.size() == 1) {
            Files.delete(parts.get(0));
            kept = 0;
        }
        String message = refusal(false);
        assertTrue(message.startsWith("token dataset " + tokens + (kept == 0
                ? " has no document index (_documents holds no part file)"
                : " is incomplete or altered: its manifest lists 4 document(s), its document index _documents holds "
                        + kept + " (a part file missing or added?)")), message);
    }

    /** Spark warns when handed a folder whose name starts with _; the index is read without that. */
    @Test
    void aSoundDocumentIndexIsReadWithoutAWarning() throws IOException {
        List<String> warnings = new CopyOnWriteArrayList<>();
        AbstractAppender capture = new AbstractAppender("capture-warnings", null, null, true, Property.EMPTY_ARRAY) {
            @Override
            public void append(LogEvent event) {
                if (event.getLevel().isMoreSpecificThan(Level.WARN)) {
                    warnings.add(event.getMessage().getFormattedMessage());
                }
            }
        };
        capture.start();
        Logger root = (Logger) LogManager.getRootLogger();
        root.addAppender(capture);
        try {
            assertEquals(4, TokenBlocks.documents(SPARK.session(), tokens).count());
            TokenBlocks.checkDocuments(SPARK.session(), tokens,
                    TokenManifest.read(tokens, SPARK.session().sparkContext().hadoopConfiguration()));
        } finally {
            root.removeAppender(capture);
            capture.stop();
        }
        assertTrue(warnings.stream().noneMatch(w -> w.contains(TokenManifest.DOCUMENTS)), warnings.toString());
    }
}
