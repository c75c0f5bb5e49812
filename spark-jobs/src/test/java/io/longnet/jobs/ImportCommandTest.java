package io.longnet.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.attention.CpuAttentionKernel;
import io.longnet.attention.HeadOffset;
import io.longnet.datasets.DocumentMode;
import io.longnet.datasets.TokenBlocks;
import io.longnet.datasets.TokenizeOptions;
import io.longnet.model.LongNetModel;
import io.longnet.model.ModelWeights;
import io.longnet.model.TorchscaleFixture;
import io.longnet.spark.SparkSessionExtension;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code longnet import} of torchscale's golden fixture (docs/MODEL.md, "Importing torchscale checkpoints"):
 * the safetensors state dict and the {@code torch.save} checkpoint each give a model directory that
 * {@code score} and {@code encode} read, and {@code score} on Spark, with partitions shorter than two of the
 * branches' segments, gives the single-process model's log-probabilities; a bad checkpoint ends in one line,
 * exit code 2, and nothing written.
 */
class ImportCommandTest {

    @RegisterExtension
    static final SparkSessionExtension SPARK = new SparkSessionExtension();

    @TempDir
    static Path dir;
    private static TorchscaleFixture fixture;
    private static Path fromSafetensors;
    private static Path fromCheckpoint;

    @BeforeAll
    static void importBoth() throws IOException {
        fixture = TorchscaleFixture.copyTo(dir.resolve("fixture"));
        fromSafetensors = dir.resolve("model-st");
        fromCheckpoint = dir.resolve("model-pt");
        assertEquals(0, run("import", "--checkpoint", fixture.file(TorchscaleFixture.SAFETENSORS).toString(),
                "--config", fixture.file(TorchscaleFixture.ARGS).toString(), "--out", fromSafetensors.toString()).code);
        assertEquals(0, run("import", "--checkpoint", fixture.file(TorchscaleFixture.CHECKPOINT).toString(),
                "--out", fromCheckpoint.toString()).code);
    }

    private record Ran(int code, String stdout, String stderr) {
    }

    private static Ran run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.execute(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Ran(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void bothCheckpointFormatsGiveTheSameModelDirectory() throws IOException {
        LongNetModel a = LongNetModel.load(fromSafetensors);
        LongNetModel b = LongNetModel.load(fromCheckpoint);
        assertEquals(a.config(), b.config());
        assertEquals(HeadOffset.CONTIGUOUS_GROUPS, a.config().headOffset());
        assertTrue(a.weights().sameAs(b.weights()));
        assertEquals(Files.readAllBytes(fromSafetensors.resolve(LongNetModel.WEIGHTS_FILE)).length,
                Files.readAllBytes(fromCheckpoint.resolve(LongNetModel.WEIGHTS_FILE)).length);
    }

    /**
     * One document of 300 bytes in blocks of 64, partitions of L = 128: branch 128:1 is local, 256:2 and 512:4
     * span 2 and 3 partitions (the exchange runs). Per-token log-probs equal the single-process model's.
     * {@code encode} reads the other directory (whole sequence in one task: the spanning path is score's here).
     */
    @Test
    void scoreOnSparkEqualsTheSingleProcessModel() throws Exception {
        Path corpus = dir.resolve("corpus");
        Files.createDirectories(corpus);
        StringBuilder text = new StringBuilder();
        java.util.Random random = new java.util.Random(17);
        while (text.length() < 300) {
            text.append("the dilated attention of segment ").append(random.nextInt(1000)).append(" mixes branches; ");
        }
        Files.writeString(corpus.resolve("doc.txt"), text.substring(0, 300));
        String tokens = dir.resolve("tokens").toUri().toString();
        TokenBlocks.write(SPARK.session(), corpus.toUri().toString(), tokens,
                TokenizeOptions.defaults(DocumentMode.FILE).withBlockSize(64));
        String out = dir.resolve("scores").toString();
        Ran scored = run("score", "--tokens", tokens, "--model", fromCheckpoint.toString(), "--out", out,
                "--partition-length", "128", "--backend", "cpu", "--per-token", "--checkpoint-every", "0");
        assertEquals(0, scored.code, scored.stderr);

        int[] ids = sequence(tokens);
        assertTrue(ids.length > 256, "the sequence is longer than two partitions: " + ids.length);
        float[] want;
        try (CpuAttentionKernel kernel = new CpuAttentionKernel(1)) {
            want = LongNetModel.load(fromCheckpoint).nextTokenLogProbs(ids, kernel);
        }
        List<Float> got = new ArrayList<>();
        for (Row r : SPARK.session().read().parquet(out + "/log_probs").orderBy("block").collectAsList()) {
            got.addAll(r.getList(2));
        }
        assertEquals(want.length, got.size());
        double nll = 0;
        for (int i = 0; i < want.length; i++) {
            assertEquals(want[i], got.get(i), 1e-5 * Math.max(1, Math.abs(want[i])), "log-prob " + i);
            nll -= want[i];
        }
        Row sequence = SPARK.session().read().parquet(out + "/sequences").collectAsList().get(0);
        assertEquals(nll / want.length, sequence.getDouble(2), 1e-5 * nll / want.length);

        // Final features of encode equal the single-process model's.
        String encoded = dir.resolve("encoded").toString();
        Ran enc = run("encode", "--tokens", tokens, "--model", fromSafetensors.toString(), "--out", encoded,
                "--backend", "cpu");
        assertEquals(0, enc.code, enc.stderr);
        float[] features;
        try (CpuAttentionKernel kernel = new CpuAttentionKernel(1)) {
            features = LongNetModel.load(fromSafetensors).forward(ids, kernel, false).features();
        }
        int checked = 0;
        for (Row r : SPARK.session().read().parquet(encoded).collectAsList()) {
            byte[] bytes = (byte[]) r.get(2);
            float[] rows = new float[bytes.length / 4];
            ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(rows);
            int from = (int) r.getLong(1) * 64 * 64;
            for (int i = 0; i < rows.length; i++) {
                assertEquals(features[from + i], rows[i], 1e-4 * Math.max(1, Math.abs(features[from + i])));
            }
            checked += rows.length;
        }
        assertEquals(features.length, checked);
    }

    private static int[] sequence(String tokens) throws IOException {
        TreeMap<Long, int[]> blocks = new TreeMap<>();
        for (Row r : TokenBlocks.read(SPARK.session(), tokens).collectAsList()) {
            List<Integer> list = r.getList(2);
            blocks.put(r.getLong(1), list.stream().mapToInt(Integer::intValue).toArray());
        }
        return blocks.values().stream().flatMapToInt(Arrays::stream).toArray();
    }

    // ---- bad checkpoints ------------------------------------------------------------------------------------

    /** The fixture's state dict as safetensors, with {@code edit} applied to it. */
    private static Path edited(String name, java.util.function.Consumer<ModelWeights> edit) throws IOException {
        ModelWeights w = ModelWeights.load(fixture.file(TorchscaleFixture.SAFETENSORS));
        edit.accept(w);
        Path file = dir.resolve(name + ".safetensors");
        w.save(file);
        return file;
    }

    private static void assertRefused(String[] args, Path out, String start) throws IOException {
        Ran ran = run(args);
        assertEquals(2, ran.code, ran.stderr);
        List<String> lines = ran.stderr.lines().toList();
        assertEquals(1, lines.size(), ran.stderr);
        assertTrue(lines.get(0).startsWith(start), lines.get(0));
        assertFalse(Files.exists(out), "nothing at --out");
        try (Stream<Path> beside = Files.list(out.getParent())) {
            assertTrue(beside.noneMatch(p -> p.getFileName().toString().startsWith("." + out.getFileName())),
                    "no hidden sibling or claim left beside --out");
        }
    }

    @Test
    void missingTensorIsOneLineAndExitTwo() throws IOException {
        ModelWeights all = ModelWeights.load(fixture.file(TorchscaleFixture.SAFETENSORS));
        ModelWeights w = new ModelWeights();
        for (String n : all.names()) {
            if (!n.equals("layers.1.ffn.fc1.bias")) {
                w.put(n, all.shape(n), all.data(n));
            }
        }
        Path file = dir.resolve("missing.safetensors");
        w.save(file);
        Path out = dir.resolve("bad-missing");
        assertRefused(new String[] {"import", "--checkpoint", file.toString(), "--config",
            fixture.file(TorchscaleFixture.ARGS).toString(), "--out", out.toString()}, out,
                "longnet import: checkpoint " + file + ": missing tensor 'layers.1.ffn.fc1.bias'");
    }

    @Test
    void wrongShapeIsOneLineAndExitTwo() throws IOException {
        Path file = edited("shape", w -> w.put("layers.0.self_attn.k_proj.bias", new int[] {32}, new float[32]));
        Path out = dir.resolve("bad-shape");
        assertRefused(new String[] {"import", "--checkpoint", file.toString(), "--config",
            fixture.file(TorchscaleFixture.ARGS).toString(), "--out", out.toString()}, out,
                "longnet import: checkpoint " + file + ": tensor 'layers.0.self_attn.k_proj.bias' has shape [32],"
                        + " expected [64]");
    }

    @Test
    void unsupportedOptionIsOneLineAndExitTwo() throws IOException {
        Path args = dir.resolve("moe.json");
        Files.writeString(args, Files.readString(fixture.file(TorchscaleFixture.ARGS))
                .replace("\"moe_freq\": 0", "\"moe_freq\": 2"));
        Path out = dir.resolve("bad-moe");
        assertRefused(new String[] {"import", "--checkpoint", fixture.file(TorchscaleFixture.SAFETENSORS).toString(),
            "--config", args.toString(), "--out", out.toString()}, out,
                "longnet import: torchscale config " + args + ": unsupported setting moe_freq = 2:"
                        + " mixture-of-experts layers are not supported");
    }

    @Test
    void notACheckpointIsOneLineAndExitTwo() throws IOException {
        Path file = dir.resolve("garbage.pt");
        Files.writeString(file, "not a zip");
        Path out = dir.resolve("bad-garbage");
        assertRefused(new String[] {"import", "--checkpoint", file.toString(), "--out", out.toString()}, out,
                "longnet import: checkpoint " + file + ": not a torch.save zip archive");
    }

    @Test
    void missingOrFolderCheckpointIsNamedBeforeAnyWork() throws IOException {
        Path out = dir.resolve("bad-none");
        Path none = dir.resolve("none.pt");
        assertRefused(new String[] {"import", "--checkpoint", none.toString(), "--out", out.toString()}, out,
                "longnet import: --checkpoint " + none + ": no such file or directory");
        assertRefused(new String[] {"import", "--checkpoint", dir.toString(), "--out", out.toString()}, out,
                "longnet import: --checkpoint " + dir + " is a folder, not a file");
    }

    @Test
    void existingOutputIsRefused() throws IOException {
        Ran again = run("import", "--checkpoint", fixture.file(TorchscaleFixture.CHECKPOINT).toString(),
                "--out", fromCheckpoint.toString());
        assertEquals(2, again.code);
        assertTrue(again.stderr.contains("exists"), again.stderr);
        assertTrue(Files.exists(fromCheckpoint.resolve(LongNetModel.WEIGHTS_FILE)), "the existing model is kept");
    }
}
