package io.longnet.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.longnet.datasets.SyntheticQkv;
import io.longnet.datasets.TokenManifest;
import io.longnet.spark.SparkSessionExtension;
import io.longnet.tensors.DType;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The catalogue of bad input, each kind a distinct cause, across the commands: through the CLI's entry point
 * in-process, every one ends with exit code 2, exactly one line on stderr holding the message's key words,
 * and nothing written where the output was to go (the case's own folder stays empty: no output, no hidden
 * temporary sibling). Most are refused before Spark would start; those found by Spark jobs run on the one
 * session of this class, which the CLI uses and leaves running. docs/RELIABILITY.md lists the kinds.
 */
class BadInputCatalogueTest {

    @RegisterExtension
    static final SparkSessionExtension SPARK = new SparkSessionExtension();

    /** Fixtures: inputs good and bad, outputs that exist. */
    static Path dir;
    /** A folder this process cannot write in (null where none can be made: root on a system without /sys). */
    static Path readOnly;
    private static final AtomicInteger CASES = new AtomicInteger();

    // ---- the catalogue ---------------------------------------------------------------------------------------

    /** A kind: its name, the key words of its one line (" | " between them), the command line (spaces between). */
    static Arguments c(String kind, String keys, String args) {
        return Arguments.of(kind, keys, args);
    }

    static Stream<Arguments> catalogue() {
        String attend = "attend --qkv {qkv} --out {out}.safetensors --branches 64:1 ";
        String score = "score --tokens {tokens} --model {model} --out {out} ";
        String train = "train --tokens {tokens} --config {tiny} --out {out} ";
        String init = "init-model --out {out} --config ";
        return Stream.of(
                // -- the command line itself
                c("unknown command", "Unmatched argument at index 0: 'frobnicate' | see longnet --help", "frobnicate"),
                c("unknown option, with a suggestion", "Unknown options: '--ouy' | did you mean --out? | see longnet attend"
                        + " --help", "attend --qkv {qkv} --out {out} --branches 64:1 --ouy x"),
                c("required option missing", "Missing required option: '--branches=w:r,...' | see longnet attend --help",
                        "attend --qkv {qkv} --out {out}"),
                c("option without its value", "Missing required parameter for option '--branches'",
                        "attend --qkv {qkv} --out {out} --branches"),
                c("stray positional argument", "Unmatched argument | 'extra'", attend + "extra"),
                c("not a number", "Invalid value for option '--partition-length': 'abc' is not an int",
                        attend + "--partition-length abc"),
                c("--heads 0", "--heads | '0' is not a whole number >= 1", attend + "--heads 0"),
                c("unknown backend", "backend 'tpu': expected auto, cpu or gpu", attend + "--backend tpu"),
                c("negative --checkpoint-every", "--checkpoint-every | '-1' is not a whole number >= 0",
                        score + "--checkpoint-every -1"),
                c("unknown document mode", "document mode 'paragraph': expected 'file' or 'line'",
                        "tokenize --corpus {corpus} --out {out} --documents paragraph"),
                c("bench: bad --causal", "--causal takes both, true or false (got 'maybe')", "bench attend --causal maybe"),
                c("bench: --sizes 0", "--sizes takes lengths >= 1 (got 0)", "bench attend --sizes 0"),
                c("clean without a path", "Missing required parameter: 'OUT'", "clean"),
                // -- branches
                c("branch without dilation", "branch '2048': expected segment:dilation, e.g. 2048:1",
                        "attend --qkv {qkv} --out {out} --branches 2048"),
                c("branch not a number", "branch '2048:x': segment and dilation must be whole numbers",
                        "attend --qkv {qkv} --out {out} --branches 2048:x"),
                c("branch number too large", "branch '99999999999:1': 99999999999 is too large (at most 2147483647)",
                        "attend --qkv {qkv} --out {out} --branches 99999999999:1"),
                c("empty branch entry", "empty entry", "attend --qkv {qkv} --out {out} --branches 64:1,,128:2"),
                c("dilation 0", "branch 64:0: dilation must be >= 1",
                        "attend --qkv {qkv} --out {out} --branches 32:1,64:0"),
                c("dilation above the segment", "branch 64:128: dilation 128", "attend --qkv {qkv} --out {out} --branches"
                        + " 32:1,64:128"),
                c("branch given twice", "branch 64:1 is given twice", "attend --qkv {qkv} --out {out} --branches 64:1,64:1"),
                c("no branch of dilation 1", "no branch has dilation 1", "attend --qkv {qkv} --out {out} --branches 64:2"),
                c("segment length 0", "branch 0:1", "attend --qkv {qkv} --out {out} --branches 0:1"),
                // -- the master
                c("master URL malformed", "--master 'local[two]' is not a Spark master URL | local[N]",
                        attend + "--master local[two]"),
                c("master refusing connections", "Spark master spark://127.0.0.1:1 is unreachable | is it running",
                        attend + "--master spark://127.0.0.1:1"),
                c("master host unknown", "spark://no-such-host.invalid:7077 is unreachable | unknown host",
                        attend + "--master spark://no-such-host.invalid:7077"),
                c("master yarn without YARN support", "--master yarn: this Spark has no YARN support", attend
                        + "--master yarn"),
                c("master port out of range", "127.0.0.1:99999: port out of range", attend
                        + "--master spark://127.0.0.1:99999"),
                // -- the partition length
                c("partition length 1", "--partition-length 1 is too small | smallest sensible value here is 64",
                        attend + "--partition-length 1"),
                c("partition length not fitting the branches", "partition length 96 does not fit branch 64:1 | valid: 16,"
                        + " 32, 64, 128, 256, 512", "attend --qkv {qkv} --out {out} --branches 64:1,256:2"
                        + " --partition-length 96"),
                c("partition length too large for one buffer", "exceeds one buffer per task",
                        "attend --qkv {qkv} --out {out} --branches 64:1 --partition-length 1073741824"),
                c("score: partition length not fitting the model", "partition length 100 does not fit branch 256:1 |"
                        + " valid: 256, 512, 1024", score + "--partition-length 100"),
                c("score: partition length across token blocks", "partition length 128 is not a multiple of the"
                        + " 256-position blocks | valid: 256, 512, 1024", score + "--partition-length 128"),
                // -- attend's input
                c("qkv missing", "--qkv | missing.safetensors: no such file or directory",
                        "attend --qkv {dir}/missing.safetensors --out {out} --branches 64:1"),
                c("qkv folder that is no block dataset", "empty-folder", "attend --qkv {dir}/empty-folder --out {out}"
                        + " --branches 64:1"),
                c("qkv: a token dataset given as q, k, v", "longnet-tokens/1", "attend --qkv {tokens} --out {out}"
                        + " --branches 64:1"),
                c("qkv tensor missing", "no tensor 'v' (has: q, k)", "attend --qkv {dir}/no-v.safetensors --out {out}"
                        + " --branches 8:1"),
                c("qkv shapes differ", "tensor 'k': shape [8, 2, 5] differs from q's [8, 2, 4]",
                        "attend --qkv {dir}/mismatch.safetensors --out {out} --branches 8:1"),
                c("qkv rank not 3", "tensor 'q': shape [8, 8] is not [N, H, d]",
                        "attend --qkv {dir}/rank.safetensors --out {out} --branches 8:1"),
                c("qkv truncated", "truncated", "attend --qkv {dir}/cut.safetensors --out {out} --branches 8:1"),
                c("qkv offsets out of range", "data offsets out of range",
                        "attend --qkv {dir}/offsets.safetensors --out {out} --branches 8:1"),
                c("qkv offsets not matching the shape", "tensor 'v'",
                        "attend --qkv {dir}/short-v.safetensors --out {out} --branches 8:1"),
                c("qkv dtype unsupported", "unsupported dtype 'I64'",
                        "attend --qkv {dir}/i64.safetensors --out {out} --branches 8:1"),
                c("qkv header not JSON", "header.safetensors", "attend --qkv {dir}/header.safetensors --out {out}"
                        + " --branches 8:1"),
                c("qkv header with a tensor twice", "Duplicate field 'q'", "attend --qkv {dir}/twice.safetensors --out"
                        + " {out} --branches 8:1"),
                c("qkv header longer than the file", "tiny-header.safetensors",
                        "attend --qkv {dir}/tiny-header.safetensors --out {out} --branches 8:1"),
                c("qkv shorter than its length field", "short.safetensors",
                        "attend --qkv {dir}/short.safetensors --out {out} --branches 8:1"),
                c("qkv empty dimension", "needs N, H, d >= 1", "attend --qkv {dir}/empty-dim.safetensors --out {out}"
                        + " --branches 8:1"),
                c("--heads not matching q", "--heads 3 does not match the input's H = 2", attend + "--heads 3"),
                c("NaN in v", "tensor 'v' holds NaN at [200, 1, 3]", "attend --qkv {dir}/nan.safetensors --out {out}"
                        + " --branches 32:1 --partition-length 64"),
                // -- outputs
                c("attend: output exists", "output | exists: remove it, choose another path or pass --overwrite",
                        "attend --qkv {qkv} --out {dir}/existing --branches 64:1"),
                c("attend: output under a file", "afile.txt is a file, not a folder",
                        "attend --qkv {qkv} --out {dir}/afile.txt/o.safetensors --branches 64:1"),
                c("attend: output folder not writable", "cannot write in | (Permission denied): choose another path or fix its permissions",
                        "attend --qkv {qkv} --out {ro}/o.safetensors --branches 64:1"),
                c("output on an unknown file system", "No FileSystem for scheme \"nosuch\"",
                        "attend --qkv {qkv} --out nosuch://host/o --branches 64:1"),
                c("score: checkpoint folder under a file", "afile.txt", score + "--checkpoint-dir {dir}/afile.txt/ck"),
                // -- token datasets
                c("tokens missing", "--tokens | no such file or directory", "score --tokens {dir}/missing --model {model}"
                        + " --out {out}"),
                c("tokens folder without a manifest", "is not a longnet token dataset | longnet tokenize",
                        "score --tokens {dir}/empty-folder --model {model} --out {out}"),
                c("tokens manifest of vectors", "this is a dataset of vectors, not of tokens",
                        "score --tokens {dir}/blocks --model {model} --out {out}"),
                c("tokens manifest of an unknown format", "has format 'longnet-tokens/99'",
                        "score --tokens {dir}/tokens-format --model {model} --out {out}"),
                c("tokens manifest not JSON", "_longnet.json", "score --tokens {dir}/tokens-json --model {model}"
                        + " --out {out}"),
                c("tokens manifest with a field of the wrong type", "block_size", "score --tokens {dir}/tokens-field"
                        + " --model {model} --out {out}"),
                c("tokens part file missing", "is incomplete or altered | a part file missing",
                        "score --tokens {dir}/tokens-incomplete --model {model} --out {out}"),
                c("tokens from a larger vocabulary", "come from a vocabulary of 258 | the model's has 100",
                        "score --tokens {tokens} --model {dir}/model-small --out {out}"),
                // -- models
                c("model missing", "--model | no such file or directory", "score --tokens {tokens} --model {dir}/missing"
                        + " --out {out}"),
                c("model a file", "--model | afile.txt is a file, not a folder", "score --tokens {tokens} --model"
                        + " {dir}/afile.txt --out {out}"),
                c("model folder without config.json", "config.json", "score --tokens {tokens} --model {dir}/empty-folder"
                        + " --out {out}"),
                c("model without weights", "model.safetensors", "score --tokens {tokens} --model {dir}/model-noweights"
                        + " --out {out}"),
                c("model weights of another shape", "model-wrongweights", "score --tokens {tokens} --model"
                        + " {dir}/model-wrongweights --out {out}"),
                c("encode: layer beyond the model", "--layer 9: the model has layers 0 (embeddings) to 2",
                        "encode --tokens {tokens} --model {model} --out {out} --layer 9"),
                // -- model configs (init-model)
                c("config missing", "--config | no such file or directory", init + "{dir}/missing.json"),
                c("config a folder", "--config | empty-folder is a folder, not a file", init + "{dir}/empty-folder"),
                c("config not JSON", "not valid JSON", init + "{dir}/cfg-notjson.json"),
                c("config not an object", "expected a JSON object", init + "{dir}/cfg-array.json"),
                c("config unknown key", "unknown key 'dmodel'", init + "{dir}/cfg-unknown.json"),
                c("config missing key", "missing key 'vocab_size'", init + "{dir}/cfg-missing.json"),
                c("config wrong type", "'heads' must be", init + "{dir}/cfg-type.json"),
                c("config value out of range", "'layers' = 99999999999 is out of range", init + "{dir}/cfg-range.json"),
                c("config d_model not divisible by heads", "d_model 66 is not divisible by heads 4",
                        init + "{dir}/cfg-divisible.json"),
                c("config head width odd", "head width d_model/heads = 60/4 = 15 is odd", init + "{dir}/cfg-odd.json"),
                c("config unknown head offset", "'head_offset' = \"diagonal\" is not one of",
                        init + "{dir}/cfg-offset.json"),
                c("config strided with branches", "'branches' applies to dilated attention only",
                        init + "{dir}/cfg-strided-branches.json"),
                c("config count below 1", "must be >= 1", init + "{dir}/cfg-zero.json"),
                c("config bad branches", "no branch has dilation 1", init + "{dir}/cfg-branches.json"),
                c("config unknown attention pattern", "'attention' = \"sparse\" is not one of",
                        init + "{dir}/cfg-attention.json"),
                c("config strided without stride", "missing key 'stride'", init + "{dir}/cfg-stride.json"),
                c("config layer_norm_eps not positive", "layer_norm_eps must be a positive finite number",
                        init + "{dir}/cfg-eps.json"),
                // -- train
                c("train: --config and --init", "not both", train + "--init {model}"),
                c("train: neither --config nor --init", "give --config CONFIG (a new model) or --init MODEL",
                        "train --tokens {tokens} --out {out}"),
                c("train: --init folder without a model", "config.json", "train --tokens {tokens} --init"
                        + " {dir}/empty-folder --out {out}"),
                c("train: --resume without a checkpoint", "--resume: no checkpoint in",
                        "train --tokens {tokens} --out {dir}/existing --resume"),
                c("train: existing output", "exists: pass --resume", "train --tokens {tokens} --config {tiny} --out"
                        + " {dir}/existing"),
                c("train: --steps 0", "--steps must be >= 1 (got 0)", train + "--steps 0"),
                c("train: --validation 1.5", "--validation must be in [0, 1) (got 1.5)", train + "--validation 1.5"),
                c("train: --checkpoint-every 0", "--checkpoint-every must be >= 1 (got 0)", train
                        + "--checkpoint-every 0"),
                c("train: --batch 0", "--batch must be >= 1 (got 0)", train + "--batch 0"),
                c("train: --batch beyond the windows", "--batch 1000 exceeds the", train + "--batch 1000"),
                c("train: --lr 0", "learning rate must be a positive finite number", train + "--lr 0"),
                c("train: negative weight decay", "weight decay must be a finite number >= 0", train
                        + "--weight-decay -1"),
                c("train: warm-up beyond the steps", "warm-up steps must be in [0, total steps", train
                        + "--steps 2 --warmup 50"),
                c("train: windows of one token", "sequence length must be >= 2", train + "--seq-len 1"),
                c("train: negative clip norm", "clip norm must be > 0", train + "--clip-norm -1"),
                c("train: windows longer than the dataset", "fewer than two windows", train + "--seq-len 100000"),
                // -- tokenize
                c("corpus missing", "corpus | does not exist", "tokenize --corpus {dir}/missing --out {out}"),
                c("corpus folder without files", "holds no files", "tokenize --corpus {dir}/empty-folder --out {out}"),
                c("block size 0", "block size must be >= 1", "tokenize --corpus {corpus} --out {out} --block-size 0"),
                c("tokenizer missing", "tokenizer | does not exist", "tokenize --corpus {corpus} --out {out}"
                        + " --tokenizer {dir}/missing.json"),
                c("tokenizer folder without tokenizer.json", "holds no tokenizer.json", "tokenize --corpus {corpus}"
                        + " --out {out} --tokenizer {dir}/empty-folder"),
                c("tokenizer not JSON", "is not valid JSON", "tokenize --corpus {corpus} --out {out}"
                        + " --tokenizer {dir}/cfg-notjson.json"),
                c("tokenizer JSON of something else", "is not a Hugging Face tokenizer.json", "tokenize --corpus"
                        + " {corpus} --out {out} --tokenizer {tiny}"),
                c("corpus without a token", "has no document with tokens", "tokenize --corpus {dir}/blank-corpus"
                        + " --out {out}"),
                // -- synth-corpus
                c("synth-corpus: --documents 0", "documents must be >= 1 (got 0)", "synth-corpus --out {out}"
                        + " --documents 0"),
                c("synth-corpus: documents too short", "bytes per document must be >= 64", "synth-corpus --out {out}"
                        + " --bytes 10"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("catalogue")
    void endsInOneLineWithExitCodeTwoAndNothingWritten(String kind, String keys, String command) throws IOException {
        Path outs = Files.createDirectories(dir.resolve("outs").resolve("case-" + CASES.incrementAndGet()));
        if (command.contains("{ro}")) {
            assumeTrue(readOnly != null, "no folder this process cannot write in (root without /sys)");
        }
        String[] args = Arrays.stream(command.split(" ")).map(a -> a
                .replace("{out}", outs.resolve("o").toString())
                .replace("{qkv}", dir.resolve("qkv.safetensors").toString())
                .replace("{tokens}", dir.resolve("tokens").toString())
                .replace("{model}", dir.resolve("model").toString())
                .replace("{tiny}", TINY.toString())
                .replace("{corpus}", CORPUS.toString())
                .replace("{ro}", String.valueOf(readOnly))
                .replace("{dir}", dir.toString())).toArray(String[]::new);
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.execute(args, new PrintStream(new ByteArrayOutputStream()),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        String stderr = err.toString(StandardCharsets.UTF_8);
        assertEquals(2, code, () -> kind + ": exit code; stderr: " + stderr);
        List<String> lines = stderr.lines().toList();
        assertEquals(1, lines.size(), () -> kind + ": exactly one line on stderr: " + stderr);
        assertTrue(lines.get(0).startsWith("longnet"), () -> kind + ": names the command: " + stderr);
        for (String key : keys.split(" \\| ")) {
            assertTrue(lines.get(0).contains(key), () -> kind + ": expected '" + key + "' in: " + stderr);
        }
        assertEquals(List.of(), AttendJobTest.listing(outs), kind + ": nothing written at --out");
        assertEquals(List.of("afile.txt"), AttendJobTest.listing(dir).stream().filter(n -> n.startsWith("afile"))
                .toList(), kind + ": nothing written under the file");
    }

    @Test
    void theCatalogueHoldsAHundredDistinctKinds() {
        List<Arguments> all = catalogue().toList();
        Set<Object> kinds = new HashSet<>();
        Set<Object> commandLines = new HashSet<>();
        all.forEach(a -> {
            kinds.add(a.get()[0]);
            commandLines.add(a.get()[2]);
        });
        assertEquals(all.size(), kinds.size(), "kinds are named once");
        assertEquals(all.size(), commandLines.size(), "each kind has its own command line");
        assertTrue(all.size() >= 100, "at least 100 kinds: " + all.size());
    }

    // ---- fixtures ------------------------------------------------------------------------------------------

    static final Path TINY = Path.of("../datasets/data/models/tiny-config.json").toAbsolutePath().normalize();
    static final Path CORPUS = Path.of("../datasets/data/corpus-files").toAbsolutePath().normalize();
    static final int TENSOR_BYTES = 8 * 2 * 4 * Float.BYTES; // hand-made files: [8, 2, 4] F32

    @BeforeAll
    static void fixtures() throws IOException {
        dir = Files.createTempDirectory("longnet-catalogue");
        Configuration conf = new Configuration();
        long seed = 20261130L;
        System.out.println("BadInputCatalogueTest: q, k, v seed " + seed);
        SyntheticQkv.write(dir.resolve("qkv.safetensors").toUri().toString(), conf, 256, 2, 4, DType.F32, seed);
        ok("tokenize", "--corpus", CORPUS.toString(), "--out", dir.resolve("tokens").toString(), "--block-size", "256");
        ok("init-model", "--config", TINY.toString(), "--out", dir.resolve("model").toString());
        ok("attend", "--qkv", dir.resolve("qkv.safetensors").toString(), "--out", dir.resolve("blocks").toString(),
                "--branches", "64:1");
        Files.createDirectories(dir.resolve("empty-folder"));
        Files.createDirectories(dir.resolve("existing"));
        Files.writeString(dir.resolve("afile.txt"), "a file\n");
        Files.createDirectories(dir.resolve("blank-corpus"));
        Files.writeString(dir.resolve("blank-corpus/empty.txt"), "");

        // Token datasets: a part file missing, a manifest of another format, a manifest that is no JSON.
        copy(dir.resolve("tokens"), dir.resolve("tokens-incomplete"));
        try (Stream<Path> parts = Files.list(dir.resolve("tokens-incomplete"))) {
            Files.delete(parts.filter(p -> p.getFileName().toString().startsWith("part-")).sorted().findFirst()
                    .orElseThrow());
        }
        copy(dir.resolve("tokens"), dir.resolve("tokens-format"));
        Path manifest = dir.resolve("tokens-format").resolve(TokenManifest.FILE);
        Files.writeString(manifest, Files.readString(manifest).replace("longnet-tokens/1", "longnet-tokens/99"));
        copy(dir.resolve("tokens"), dir.resolve("tokens-json"));
        Files.writeString(dir.resolve("tokens-json").resolve(TokenManifest.FILE), "{\"format\": ");
        copy(dir.resolve("tokens"), dir.resolve("tokens-field"));
        Path field = dir.resolve("tokens-field").resolve(TokenManifest.FILE);
        Files.writeString(field, Files.readString(field).replaceFirst("\"block_size\" ?: ?256", "\"block_size\": \"many\""));

        // Models: a smaller vocabulary, no weights, a config that is no JSON, weights of another shape.
        String tiny = Files.readString(TINY);
        Files.writeString(dir.resolve("cfg-small.json"), tiny.replace("\"vocab_size\": 258", "\"vocab_size\": 100"));
        ok("init-model", "--config", dir.resolve("cfg-small.json").toString(), "--out",
                dir.resolve("model-small").toString());
        Files.createDirectories(dir.resolve("model-noweights"));
        Files.copy(dir.resolve("model/config.json"), dir.resolve("model-noweights/config.json"));
        Files.createDirectories(dir.resolve("model-badjson"));
        Files.writeString(dir.resolve("model-badjson/config.json"), "{\"vocab_size\": 258,");
        Files.writeString(dir.resolve("cfg-wide.json"), tiny.replace("\"ffn_dim\": 256", "\"ffn_dim\": 128"));
        ok("init-model", "--config", dir.resolve("cfg-wide.json").toString(), "--out",
                dir.resolve("model-wrongweights").toString());
        Files.copy(dir.resolve("model/config.json"), dir.resolve("model-wrongweights/config.json"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);

        // Model configs, each wrong in one way.
        Files.writeString(dir.resolve("cfg-notjson.json"), "vocab_size = 258");
        Files.writeString(dir.resolve("cfg-array.json"), "[258, 64]");
        Files.writeString(dir.resolve("cfg-unknown.json"), tiny.replace("\"d_model\"", "\"dmodel\""));
        Files.writeString(dir.resolve("cfg-missing.json"), tiny.replace("\"vocab_size\": 258,", ""));
        Files.writeString(dir.resolve("cfg-type.json"), tiny.replace("\"heads\": 4", "\"heads\": \"four\""));
        Files.writeString(dir.resolve("cfg-range.json"), tiny.replace("\"layers\": 2", "\"layers\": 99999999999"));
        Files.writeString(dir.resolve("cfg-divisible.json"), tiny.replace("\"d_model\": 64", "\"d_model\": 66"));
        Files.writeString(dir.resolve("cfg-zero.json"), tiny.replace("\"layers\": 2", "\"layers\": 0"));
        Files.writeString(dir.resolve("cfg-branches.json"), tiny.replace("256:1,512:2,1024:4", "512:2,1024:4"));
        Files.writeString(dir.resolve("cfg-attention.json"), tiny.replace("\"causal\": true",
                "\"causal\": true, \"attention\": \"sparse\""));
        Files.writeString(dir.resolve("cfg-stride.json"), tiny.replace("\"branches\": \"256:1,512:2,1024:4\",",
                "\"attention\": \"strided\","));
        Files.writeString(dir.resolve("cfg-odd.json"), tiny.replace("\"d_model\": 64", "\"d_model\": 60"));
        Files.writeString(dir.resolve("cfg-offset.json"), tiny.replace("\"causal\": true",
                "\"causal\": true, \"head_offset\": \"diagonal\""));
        Files.writeString(dir.resolve("cfg-strided-branches.json"), tiny.replace("\"causal\": true",
                "\"causal\": true, \"attention\": \"strided\", \"stride\": 16"));
        Files.writeString(dir.resolve("cfg-eps.json"), tiny.replace("\"causal\": true",
                "\"causal\": true, \"layer_norm_eps\": 0"));

        // q, k, v files by hand ([8, 2, 4] F32 unless said otherwise).
        String q = tensor("q", "F32", "[8,2,4]", 0, TENSOR_BYTES);
        String k = tensor("k", "F32", "[8,2,4]", TENSOR_BYTES, 2 * TENSOR_BYTES);
        String v = tensor("v", "F32", "[8,2,4]", 2 * TENSOR_BYTES, 3 * TENSOR_BYTES);
        raw("no-v.safetensors", "{" + q + "," + k + "}", 2 * TENSOR_BYTES);
        int kBytes = 8 * 2 * 5 * 4;
        raw("mismatch.safetensors", "{" + q + "," + tensor("k", "F32", "[8,2,5]", TENSOR_BYTES, TENSOR_BYTES + kBytes)
                + "," + tensor("v", "F32", "[8,2,4]", TENSOR_BYTES + kBytes, 2 * TENSOR_BYTES + kBytes) + "}",
                2 * TENSOR_BYTES + kBytes);
        raw("rank.safetensors", "{" + tensor("q", "F32", "[8,8]", 0, TENSOR_BYTES) + "," + k + "," + v + "}",
                3 * TENSOR_BYTES);
        raw("cut.safetensors", "{" + q + "," + k + "," + v + "}", 3 * TENSOR_BYTES - 100);
        raw("offsets.safetensors", "{" + q + "," + k + "," + tensor("v", "F32", "[8,2,4]", 1000, 1000 + TENSOR_BYTES)
                + "}", 3 * TENSOR_BYTES);
        raw("short-v.safetensors", "{" + q + "," + k + "," + tensor("v", "F32", "[8,2,4]", 2 * TENSOR_BYTES,
                3 * TENSOR_BYTES - 8) + "}", 3 * TENSOR_BYTES);
        raw("i64.safetensors", "{" + tensor("q", "I64", "[8,2,4]", 0, 2 * TENSOR_BYTES) + ","
                + tensor("k", "F32", "[8,2,4]", 2 * TENSOR_BYTES, 3 * TENSOR_BYTES) + ","
                + tensor("v", "F32", "[8,2,4]", 3 * TENSOR_BYTES, 4 * TENSOR_BYTES) + "}", 4 * TENSOR_BYTES);
        raw("header.safetensors", "{\"q\": [1, 2", 3 * TENSOR_BYTES);
        raw("twice.safetensors", "{" + q + "," + q + "," + k + "," + v + "}", 3 * TENSOR_BYTES);
        raw("empty-dim.safetensors", "{" + tensor("q", "F32", "[0,2,4]", 0, 0) + "," + tensor("k", "F32", "[0,2,4]", 0, 0)
                + "," + tensor("v", "F32", "[0,2,4]", 0, 0) + "}", 0);
        ByteBuffer huge = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 40).put("{}".getBytes());
        Files.write(dir.resolve("tiny-header.safetensors"), huge.array());
        Files.write(dir.resolve("short.safetensors"), new byte[] {1, 2, 3});
        // Valid files but for one value: NaN in v[200, 1, 3] (a later partition), infinity in q[70, 0, 0].
        Files.copy(dir.resolve("qkv.safetensors"), dir.resolve("nan.safetensors"));
        Files.copy(dir.resolve("qkv.safetensors"), dir.resolve("inf.safetensors"));
        poke(dir.resolve("nan.safetensors"), "v", (200L * 2 + 1) * 4 + 3, Float.NaN);
        poke(dir.resolve("inf.safetensors"), "q", 70L * 2 * 4, Float.POSITIVE_INFINITY);

        readOnly = unwritableFolder();
        // Leftovers of the fixtures' own runs would be counted as writes of the cases.
        assertEquals(List.of(), AttendJobTest.listing(dir).stream().filter(n -> n.startsWith(".")).toList());
    }

    @AfterAll
    static void removeFixtures() throws IOException {
        if (readOnly != null && readOnly.startsWith(dir)) {
            Files.setPosixFilePermissions(readOnly, PosixFilePermissions.fromString("rwx------"));
        }
        io.longnet.storage.AtomicOutput.deleteRecursively(dir);
    }

    /** A folder this process cannot create files in: a read-only one of ours, or, for root, /sys. */
    static Path unwritableFolder() throws IOException {
        Path ro = Files.createDirectories(dir.resolve("read-only"));
        Files.setPosixFilePermissions(ro, PosixFilePermissions.fromString("r-x------"));
        for (Path candidate : List.of(ro, Path.of("/sys"))) {
            Path probe = candidate.resolve("probe");
            try {
                Files.createFile(probe);
                Files.delete(probe);
            } catch (IOException e) {
                return candidate;
            }
        }
        return null;
    }

    static void ok(String... args) {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.execute(args, new PrintStream(new ByteArrayOutputStream()),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(0, code, () -> String.join(" ", args) + ": " + err);
    }

    static void copy(Path from, Path to) throws IOException {
        try (Stream<Path> files = Files.walk(from)) {
            files.forEach(f -> {
                try {
                    Files.copy(f, to.resolve(from.relativize(f).toString()));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }

    static String tensor(String name, String dtype, String shape, long begin, long end) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + begin
                + "," + end + "]}";
    }

    /** A safetensors file by hand: the header as given, then {@code dataBytes} of random float32 data. */
    static void raw(String name, String header, int dataBytes) throws IOException {
        byte[] json = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + json.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(json.length).put(json);
        SplittableRandom rnd = new SplittableRandom(17); // the values only have to be finite and not all zero
        while (b.remaining() >= 4) {
            b.putFloat((float) (rnd.nextDouble() * 2 - 1));
        }
        Files.write(dir.resolve(name), b.array());
    }

    /** Sets element {@code element} of F32 tensor {@code name} of a safetensors file to {@code value}. */
    static void poke(Path file, String name, long element, float value) throws IOException {
        long at;
        try (io.longnet.tensors.SafetensorsFile f = io.longnet.storage.HadoopSafetensors.open(file.toUri().toString(),
                new Configuration())) {
            at = f.dataStart() + f.tensor(name).begin() + element * Float.BYTES;
        }
        try (java.io.RandomAccessFile raf = new java.io.RandomAccessFile(file.toFile(), "rw")) {
            raf.seek(at);
            raf.writeInt(Integer.reverseBytes(Float.floatToRawIntBits(value)));
        }
    }
}
