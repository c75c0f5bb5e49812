package io.longnet.training;

import io.longnet.storage.AtomicOutput;
import io.longnet.tensors.Float64Tensors;
import io.longnet.tensors.StrictJson;
import io.longnet.tensors.TensorFormatException;
import io.longnet.model.LongNetConfig;
import io.longnet.model.LongNetModel;
import io.longnet.model.ModelFormatException;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A training checkpoint: the float64 parameters, the {@link AdamW} moments and step count, the model
 * config, and free-form JSON state of the trainer (data position, RNG seeds, ...). In a checkpoint
 * directory {@code DIR} each checkpoint is a folder {@code DIR/step-<step, 9 digits>/} holding
 * <pre>
 *   config.json            the LongNetConfig (as a model directory's)
 *   params.safetensors     F64, one tensor per parameter tensor, torchscale names (docs/MODEL.md)
 *   optimizer.safetensors  F64 tensors "m.&lt;name&gt;" and "v.&lt;name&gt;"; __metadata__ "steps" = AdamW steps taken
 *   state.json             the trainer's JSON, as given
 * </pre>
 * {@link #write} fills a hidden folder {@code DIR/.step-<n>.longnet-tmp-*} and renames it into place, so a
 * {@code step-*} folder is always complete; then it keeps the newest {@value #KEEP} and removes older ones.
 * One writer per directory. {@link #latest} reads the newest complete one.
 *
 * @param directory      the folder it was read from
 * @param step           the step the checkpoint was written at
 * @param params         the float64 parameters (the held array, laid out by {@link ParameterLayout#of} of
 *                       {@link #config()})
 * @param optimizerSteps steps the optimiser had taken
 * @param firstMoment    the optimiser's first moments (the held array; {@link #optimizer} copies it)
 * @param secondMoment   the optimiser's second moments (the held array; {@link #optimizer} copies it)
 * @param stateJson      the trainer's state, the JSON text as written
 */
public record TrainingCheckpoint(Path directory, long step, LongNetConfig config, double[] params, long optimizerSteps,
                                 double[] firstMoment, double[] secondMoment, String stateJson) {

    public static final String CONFIG_FILE = LongNetModel.CONFIG_FILE;
    public static final String PARAMS_FILE = "params.safetensors";
    public static final String OPTIMIZER_FILE = "optimizer.safetensors";
    public static final String STATE_FILE = "state.json";
    /** Checkpoints kept in a directory. */
    public static final int KEEP = 2;

    private static final Pattern NAME = Pattern.compile("step-(\\d+)");
    /** Hidden folders of a crashed write: AtomicOutput's siblings, and the names earlier versions used. */
    private static final Pattern LEFTOVER = Pattern.compile("\\.step-\\d+\\.(longnet-)?(tmp|old)-.*");
    private static final String STEPS_KEY = "steps";

    /** The folder name of step {@code step}'s checkpoint. */
    static String folderName(long step) {
        return String.format("step-%09d", step);
    }

    /**
     * Writes the checkpoint of step {@code step} into {@code dir} atomically (a hidden temporary folder,
     * then a rename), then removes all but the newest {@value #KEEP} checkpoints. A checkpoint of the same
     * step is replaced.
     *
     * @param stateJson the trainer's state, any JSON value (e.g. {@code "{}"})
     * @throws IllegalArgumentException when the parameters or optimiser do not fit the config, the state is
     *     not JSON, or {@code dir} already holds a newer checkpoint (resume from it with {@link #latest},
     *     or use another directory)
     */
    public static void write(Path dir, long step, LongNetConfig config, double[] params, AdamW optimizer,
                             String stateJson) throws IOException {
        if (step < 0) {
            throw new IllegalArgumentException("checkpoint step must be >= 0 (got " + step + ")");
        }
        ParameterLayout layout = ParameterLayout.of(config);
        layout.checkLength("parameters", params);
        Objects.requireNonNull(optimizer, "optimizer");
        if (!optimizer.layout().equals(layout)) {
            throw new IllegalArgumentException("the optimiser's parameter layout (" + optimizer.layout()
                    + ") is not the config's (" + layout + ")");
        }
        Objects.requireNonNull(stateJson, "stateJson");
        try {
            StrictJson.parse(stateJson);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("checkpoint state is not valid JSON: " + e.getMessage(), e);
        }
        Files.createDirectories(dir);
        for (long existing : steps(dir)) {
            if (existing > step) {
                throw new IllegalArgumentException("checkpoint directory " + dir + " already holds step " + existing
                        + ", newer than " + step + ": resume from it (TrainingCheckpoint.latest) or use another directory");
            }
        }
        removeLeftovers(dir);

        // Each file forced to disk on its own, then the folder renamed into place.
        AtomicOutput.replaceDirectory(dir.resolve(folderName(step)), tmp -> {
            AtomicOutput.writeFile(tmp.resolve(CONFIG_FILE), f -> config.write(f));
            AtomicOutput.writeFile(tmp.resolve(PARAMS_FILE),
                    f -> Float64Tensors.write(f, slices(layout, "", params), Map.of("format", "pt")));
            List<Float64Tensors.Slice> moments = new ArrayList<>(slices(layout, "m.", optimizer.firstMoment()));
            moments.addAll(slices(layout, "v.", optimizer.secondMoment()));
            AtomicOutput.writeFile(tmp.resolve(OPTIMIZER_FILE),
                    f -> Float64Tensors.write(f, moments, Map.of(STEPS_KEY, Long.toString(optimizer.steps()))));
            AtomicOutput.writeFile(tmp.resolve(STATE_FILE), stateJson.getBytes(StandardCharsets.UTF_8));
        });
        prune(dir);
    }

    /**
     * The newest complete checkpoint in {@code dir} (one whose four files exist), or empty when there is
     * none (or no {@code dir}).
     *
     * @throws ModelFormatException when one of its files is corrupt, truncated or does not fit its config;
     *     the message names the file
     */
    public static Optional<TrainingCheckpoint> latest(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return Optional.empty();
        }
        List<Long> all = steps(dir);
        for (int i = all.size() - 1; i >= 0; i--) {
            Path folder = dir.resolve(folderName(all.get(i)));
            if (complete(folder)) {
                return Optional.of(read(folder, all.get(i)));
            }
        }
        return Optional.empty();
    }

    /** The optimiser resumed with {@code settings} (its moments copies of the checkpoint's). */
    public AdamW optimizer(AdamW.Settings settings) {
        return AdamW.restore(settings, ParameterLayout.of(config), optimizerSteps, firstMoment.clone(),
                secondMoment.clone());
    }

    // ---- reading -----------------------------------------------------------------------------------------

    private static TrainingCheckpoint read(Path folder, long step) throws IOException {
        LongNetConfig config = LongNetConfig.read(folder.resolve(CONFIG_FILE));
        ParameterLayout layout = ParameterLayout.of(config);

        Path paramsFile = folder.resolve(PARAMS_FILE);
        String paramsSource = "training checkpoint " + paramsFile;
        double[] params = new double[layout.size()];
        readDoubles(paramsFile, paramsSource, slices(layout, "", params));
        checkValues(paramsSource, layout, "", params, false);

        Path optimizerFile = folder.resolve(OPTIMIZER_FILE);
        String optimizerSource = "training checkpoint " + optimizerFile;
        double[] m = new double[layout.size()];
        double[] v = new double[layout.size()];
        List<Float64Tensors.Slice> moments = new ArrayList<>(slices(layout, "m.", m));
        moments.addAll(slices(layout, "v.", v));
        Map<String, String> metadata = readDoubles(optimizerFile, optimizerSource, moments);
        checkValues(optimizerSource, layout, "m.", m, false);
        checkValues(optimizerSource, layout, "v.", v, true);
        long optimizerSteps;
        try {
            optimizerSteps = Long.parseLong(Objects.requireNonNull(metadata.get(STEPS_KEY)));
        } catch (NumberFormatException | NullPointerException e) {
            throw new ModelFormatException(optimizerSource, "__metadata__ must hold \"" + STEPS_KEY
                    + "\", the optimiser's steps taken as a whole number (found " + metadata.get(STEPS_KEY) + ")");
        }
        if (optimizerSteps < 0) {
            throw new ModelFormatException(optimizerSource, "optimiser steps " + optimizerSteps + " is negative");
        }

        Path stateFile = folder.resolve(STATE_FILE);
        String state;
        try {
            state = StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(Files.readAllBytes(stateFile)))
                    .toString();
            StrictJson.parse(state);
        } catch (CharacterCodingException e) {
            throw new ModelFormatException("training checkpoint " + stateFile, "not UTF-8 text", e);
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException("training checkpoint " + stateFile, "not valid JSON: " + e.getMessage(), e);
        }
        return new TrainingCheckpoint(folder, step, config, params, optimizerSteps, m, v, state);
    }

    /** Every value finite (and {@code >= 0} when {@code nonNegative}); else names the tensor and index. */
    private static void checkValues(String source, ParameterLayout layout, String prefix, double[] values,
                                    boolean nonNegative) {
        for (String name : layout.names()) {
            int off = layout.offset(name);
            int len = layout.length(name);
            for (int i = 0; i < len; i++) {
                double x = values[off + i];
                if (!Double.isFinite(x) || (nonNegative && x < 0)) {
                    throw new ModelFormatException(source, "tensor '" + prefix + name + "' holds " + x + " at flat index "
                            + i + (nonNegative ? "; second moments must be finite and >= 0" : "; values must be finite"));
                }
            }
        }
    }

    private static List<Float64Tensors.Slice> slices(ParameterLayout layout, String prefix, double[] array) {
        List<Float64Tensors.Slice> out = new ArrayList<>();
        for (String name : layout.names()) {
            out.add(new Float64Tensors.Slice(prefix + name, layout.shape(name), array, layout.offset(name)));
        }
        return out;
    }

    /** {@link Float64Tensors#read}, its errors as this checkpoint's file's. */
    private static Map<String, String> readDoubles(Path file, String source, List<Float64Tensors.Slice> into)
            throws IOException {
        try {
            return Float64Tensors.read(file, into);
        } catch (TensorFormatException e) {
            throw new ModelFormatException(source, e.detail(), e);
        }
    }

    private static boolean complete(Path folder) {
        for (String f : new String[] {CONFIG_FILE, PARAMS_FILE, OPTIMIZER_FILE, STATE_FILE}) {
            if (!Files.isRegularFile(folder.resolve(f))) {
                return false;
            }
        }
        return true;
    }

    // ---- the directory -----------------------------------------------------------------------------------

    /** Steps of the {@code step-*} folders in {@code dir}, ascending. */
    private static List<Long> steps(Path dir) throws IOException {
        List<Long> out = new ArrayList<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
            for (Path p : s) {
                Matcher mt = NAME.matcher(p.getFileName().toString());
                if (mt.matches() && Files.isDirectory(p)) {
                    try {
                        out.add(Long.parseLong(mt.group(1)));
                    } catch (NumberFormatException tooLong) {
                        // not one of ours
                    }
                }
            }
        }
        out.sort(Comparator.naturalOrder());
        return out;
    }

    /** Keeps the newest {@link #KEEP}; each older one is renamed hidden first, so none is ever seen half-deleted. */
    private static void prune(Path dir) throws IOException {
        List<Long> all = steps(dir);
        for (int i = 0; i < all.size() - KEEP; i++) {
            AtomicOutput.delete(dir.resolve(folderName(all.get(i))));
        }
    }

    /** Hidden folders left by a write that crashed (one writer per directory, so none is in progress). */
    private static void removeLeftovers(Path dir) throws IOException {
        List<Path> leftovers = new ArrayList<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
            for (Path p : s) {
                if (LEFTOVER.matcher(p.getFileName().toString()).matches() && Files.isDirectory(p)) {
                    leftovers.add(p);
                }
            }
        }
        for (Path p : leftovers) {
            AtomicOutput.deleteRecursively(p);
        }
    }
}
