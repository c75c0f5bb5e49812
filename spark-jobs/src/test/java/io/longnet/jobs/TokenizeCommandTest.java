package io.longnet.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code longnet tokenize} on hostile input: a gzip bomb, a corrupt {@code .gz}, ends in one line, exit code
 * 2 and nothing at (or beside) the output, with the heap never holding more than the document limit.
 */
class TokenizeCommandTest {

    /** What the bombs expand to: past any heap a test JVM has, so reading it whole could only fail. */
    static final long BOMB_BYTES = 2L << 30;

    @TempDir
    Path dir;

    /**
     * A valid gzip file of {@code bytes} copies of {@code fill}, written by streaming: one MiB is deflated
     * once, ending in a full flush (so its compressed form refers to nothing before it), and repeated.
     */
    static Path gzipBomb(Path file, byte fill, long bytes) throws IOException {
        byte[] chunk = new byte[1 << 20];
        Arrays.fill(chunk, fill);
        Deflater deflater = new Deflater(Deflater.BEST_COMPRESSION, true);
        deflater.setInput(chunk);
        byte[] buffer = new byte[1 << 16];
        ByteArrayOutputStream flushed = new ByteArrayOutputStream();
        int n;
        while ((n = deflater.deflate(buffer, 0, buffer.length, Deflater.FULL_FLUSH)) > 0) {
            flushed.write(buffer, 0, n);
        }
        byte[] piece = flushed.toByteArray();
        deflater.reset();
        deflater.finish();     // the final, empty block
        ByteArrayOutputStream end = new ByteArrayOutputStream();
        while (!deflater.finished()) {
            n = deflater.deflate(buffer);
            end.write(buffer, 0, n);
        }
        deflater.end();
        CRC32 crc = new CRC32();
        try (OutputStream out = Files.newOutputStream(file)) {
            out.write(new byte[] {0x1f, (byte) 0x8b, 8, 0, 0, 0, 0, 0, 0, (byte) 0xff});
            for (long i = 0; i < bytes / chunk.length; i++) {
                out.write(piece);
                crc.update(chunk);
            }
            out.write(end.toByteArray());
            out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt((int) crc.getValue())
                    .putInt((int) bytes).array());
        }
        return file;
    }

    private int run(ByteArrayOutputStream err, String... args) {
        return Main.execute(args, new PrintStream(new ByteArrayOutputStream()),
                new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    /** Runs tokenize on {@code corpus} into {@code dir/out/tokens}; returns the exit code and the one line. */
    private String refused(Path corpus, String... more) throws IOException {
        Path outDir = Files.createDirectories(dir.resolve("out"));
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        String[] args = Stream.concat(Stream.of("tokenize", "--master", "local[1]", "--corpus", corpus.toString(),
                "--out", outDir.resolve("tokens").toString()), Stream.of(more)).toArray(String[]::new);
        int code = run(err, args);
        String message = err.toString(StandardCharsets.UTF_8).trim();
        assertEquals(2, code, message);
        assertEquals(1, message.lines().count(), message);
        try (Stream<Path> left = Files.list(outDir)) {
            assertEquals(List.of(), left.toList(), "nothing written, no temporary left");
        }
        return message;
    }

    @Test
    void aGzipBombOfTextStopsAtTheDocumentLimit() throws IOException {
        Path bomb = gzipBomb(dir.resolve("bomb.txt.gz"), (byte) 'a', BOMB_BYTES);
        assertTrue(Files.size(bomb) < (8 << 20), "the bomb is small on disk: " + Files.size(bomb));
        String message = refused(bomb, "--max-document-bytes", "1m");
        assertTrue(message.startsWith("longnet tokenize: corpus file file:" + bomb + " is larger than the document"
                + " limit of 1 MiB (after gunzip)"), message);
        Files.delete(dir.resolve("out"));
        message = refused(bomb);
        assertTrue(message.contains(" is larger than the document limit of 64 MiB (after gunzip)"), "the default: "
                + message);
    }

    @Test
    void aGzipBombOfZerosIsABinaryFileAndNoCorpus() throws IOException {
        Path bomb = gzipBomb(dir.resolve("zeros.gz"), (byte) 0, BOMB_BYTES);
        String message = refused(bomb);
        assertTrue(message.startsWith("longnet tokenize: corpus " + bomb + " has no document with tokens:")
                && message.endsWith("1 binary files skipped"), message);
    }

    @Test
    void aCorruptGzipIsNamedInOneLine() throws IOException {
        Path corrupt = Files.write(dir.resolve("corrupt.txt.gz"), new byte[] {0x1f, (byte) 0x8b, 8, 0, 1, 2, 3});
        String message = refused(corrupt);
        assertEquals("longnet tokenize: corpus file file:" + corrupt + " ends too early: truncated, or not gzip?",
                message);
    }

    @Test
    void aBadLimitIsRefusedBeforeSparkStarts() throws IOException {
        String message = refused(dir, "--max-document-bytes", "huge");
        assertEquals("longnet tokenize: --max-document-bytes 'huge': expected a size such as 64m, 512k or 1048576"
                + " (bytes)", message);
    }
}
