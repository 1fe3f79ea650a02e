package ai.djl.ttt.training;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.ndarray.types.DataType;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.io.ModelShapes;
import ai.djl.ttt.io.ParamsHeaders;
import ai.djl.ttt.lm.CausalLm;
import ai.djl.ttt.runtime.AtomicFiles;
import ai.djl.ttt.runtime.BoundedText;
import com.google.gson.JsonElement;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.stream.MalformedJsonException;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * A trained model on disk, everything needed to use or resume it:
 *
 * <ul>
 *   <li>{@code config.json}: the model's {@link TttConfig} (official keys);
 *   <li>{@code tokenizer.json} or {@code tokenizer.txt} (byte tokenizer);
 *   <li>{@code ttt-lm-NNNN.params}: the weights in DJL's format ({@code Model.save}), N = step;
 *   <li>{@code optimizer-NNNN.npz}: AdamW's moments and step counts (resume), N = step;
 *   <li>{@code training.json}: settings, progress and validation history (resume); its step names
 *       the params and optimizer files of the last complete checkpoint;
 *   <li>{@code serving.properties}: the block factory and translator factory, for DJL's {@code
 *       Criteria} (see {@code ai.djl.ttt.zoo}).
 * </ul>
 *
 * Every file is written to a temporary file in the directory and moved into place, so a crash never
 * leaves a half-written file under a real name. A checkpoint is several files: the weights and
 * optimizer state of step N are written first under names that hold N, then {@code training.json}
 * (the commit), and only then are the files of the previous checkpoint deleted. A run killed at any
 * point of a save therefore leaves the previous checkpoint complete, and {@link #load} reads the
 * step that {@code training.json} names.
 */
public final class ModelDirectory {

    /** The model name of the {@code .params} files. */
    public static final String MODEL_NAME = "ttt-lm";

    /** What DJL's own loader ({@code Criteria.optModelPath}) needs to rebuild the model. */
    private static final Map<String, String> SERVING_KEYS =
            orderedMap(
                    "engine", "PyTorch",
                    "option.modelName", MODEL_NAME,
                    "blockFactory", "ai.djl.ttt.zoo.TttBlockFactory",
                    "translatorFactory", "ai.djl.ttt.zoo.TttTranslatorFactory");

    /** A new directory's serving.properties: the keys above, and the defaults one may set. */
    private static final String SERVING_PROPERTIES =
            "# written by ttt-djl: DJL's Criteria.optModelPath(dir) rebuilds the model from it.\n"
                    + "# Later saves keep this file (they only add a missing key below).\n"
                    + keyLines(SERVING_KEYS)
                    + "# generation defaults (Criteria arguments and request parameters override):\n"
                    + "# maxNewTokens=64\n"
                    + "# temperature=0.8\n"
                    + "# topK=40\n"
                    + "# topP=1\n"
                    + "# seed=42\n"
                    + "# ceilings (a request may lower, never raise them; see docs/reliability.md):\n"
                    + "# maxPromptTokens=4096\n"
                    + "# maxNewTokensLimit=1024\n"
                    + "# maxBatchSize=32\n"
                    + "# timeoutMs=60000\n";

    /**
     * The system property that makes a save of the given step stop before its commit and wait
     * forever, for the test that kills a training run during a checkpoint save.
     */
    static final String HOLD_SAVE_PROPERTY = "ai.djl.ttt.test.holdCheckpointSave";

    /**
     * The optimizer state's name before checkpoints named their step: one file, overwritten at
     * every checkpoint. Resuming reads it when the checkpoint's own file is absent.
     */
    public static final String LEGACY_OPTIMIZER_FILE = "optimizer.npz";

    private ModelDirectory() {}

    /**
     * Returns the optimizer-state file of a checkpoint.
     *
     * @param dir the model directory
     * @param step the checkpoint's step
     * @return {@code optimizer-NNNN.npz}
     */
    public static Path optimizerFile(Path dir, int step) {
        return dir.resolve(String.format(Locale.ROOT, "optimizer-%04d.npz", step));
    }

    /**
     * Returns the optimizer state to resume a checkpoint from: its {@code optimizer-NNNN.npz}, or,
     * in a directory saved before checkpoints named their step (ttt-djl before the checkpoint
     * commit protocol), {@code optimizer.npz}.
     *
     * @param dir the model directory
     * @param step the step of the checkpoint ({@code training.json}'s)
     * @return the file to read
     * @throws FileNotFoundException if there is neither
     */
    public static Path optimizerFileToResume(Path dir, int step) throws FileNotFoundException {
        Path file = optimizerFile(dir, step);
        if (Files.isRegularFile(file)) {
            return file;
        }
        Path legacy = dir.resolve(LEGACY_OPTIMIZER_FILE);
        if (Files.isRegularFile(legacy)) {
            return legacy;
        }
        throw new FileNotFoundException(
                dir
                        + " has no optimizer state for step "
                        + step
                        + " to resume from: expected "
                        + file.getFileName()
                        + " (or "
                        + LEGACY_OPTIMIZER_FILE
                        + ", written by older versions)");
    }

    private static String paramsName(int step) {
        return String.format(Locale.ROOT, "%s-%04d.params", MODEL_NAME, step);
    }

    /**
     * Whether a file name is one that {@link #save} writes (or leaves as a temporary file or
     * staging folder when killed): what {@link #clear} and {@link #replace} may delete. Temporary
     * names are matched exactly ({@code .NAME<digits>.tmp} of a model file, {@code
     * .staging<digits>}), so that another tool's {@code .staging-backup} is not one.
     */
    private static boolean isModelFile(String n) {
        return n.equals("config.json")
                || n.equals("tokenizer.json")
                || n.equals("tokenizer.txt")
                || n.equals("serving.properties")
                || n.equals("training.json")
                || (n.startsWith(MODEL_NAME + "-") && n.endsWith(".params"))
                || (n.startsWith("optimizer") && n.endsWith(".npz"))
                || isLeftover(n);
    }

    private static final Pattern TEMPORARY = Pattern.compile("\\.(.+?)\\d+\\.tmp");
    private static final Pattern STAGING = Pattern.compile("\\.staging\\d+");

    /** A temporary file of {@code AtomicFiles} or a staging folder of {@link #save}. */
    private static boolean isLeftover(String n) {
        Matcher tmp = TEMPORARY.matcher(n);
        return STAGING.matcher(n).matches() || (tmp.matches() && isModelFile(tmp.group(1)));
    }

    /** The most of a config.json or serving.properties read to tell whose it is. */
    private static final long MAX_MARKER_FILE = 1 << 20;

    /**
     * Lists the files of a directory that have a model file's name but were not written by ttt-djl
     * (another tool's {@code config.json} or {@code serving.properties}, or a tokenizer or training
     * record beside no ttt-djl {@code config.json}): {@code ttt train --overwrite} must not replace
     * them, and refuses before it starts.
     *
     * @param dir the directory
     * @return each such file's name with why it is foreign; empty if none (or no directory)
     * @throws IOException if the directory cannot be listed
     */
    public static List<String> foreignFiles(Path dir) throws IOException {
        List<String> foreign = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return foreign;
        }
        String config = foreignConfig(dir.resolve("config.json"));
        if (config != null) {
            foreign.add("config.json (" + config + ")");
        }
        Path serving = dir.resolve("serving.properties");
        if (Files.exists(serving) && !isTttServingProperties(serving)) {
            foreign.add("serving.properties (it names no ttt-djl block factory)");
        }
        boolean tttModel = config == null && Files.isRegularFile(dir.resolve("config.json"));
        if (!tttModel) {
            for (String name : List.of("tokenizer.json", "tokenizer.txt", "training.json")) {
                if (Files.exists(dir.resolve(name))) {
                    foreign.add(name + " (beside no ttt-djl config.json)");
                }
            }
        }
        return foreign;
    }

    /** Why a config.json is not one ttt-djl wrote, or {@code null} (also when there is none). */
    private static String foreignConfig(Path file) throws IOException {
        if (!Files.exists(file)) {
            return null;
        }
        if (!Files.isRegularFile(file) || Files.size(file) > MAX_MARKER_FILE) {
            return "not a ttt-djl model config: not a file, or over 1 MB";
        }
        try {
            JsonElement root = JsonParser.parseString(Files.readString(file));
            JsonElement type =
                    root.isJsonObject() ? root.getAsJsonObject().get("model_type") : null;
            if (type != null && !"ttt".equals(type.isJsonPrimitive() ? type.getAsString() : "")) {
                return "not a ttt-djl model config: model_type " + clip(type.toString());
            }
            TttConfig.load(file);
            return null;
        } catch (IOException | RuntimeException e) {
            return "not a ttt-djl model config";
        }
    }

    private static String clip(String s) {
        return s.length() > 40 ? s.substring(0, 40) + "…" : s;
    }

    private static boolean isTttServingProperties(Path file) throws IOException {
        if (!Files.isRegularFile(file) || Files.size(file) > MAX_MARKER_FILE) {
            return false;
        }
        return Files.readString(file, StandardCharsets.ISO_8859_1)
                .contains(SERVING_KEYS.get("blockFactory"));
    }

    /**
     * Lists the names of the entries of a directory: a model directory that is not empty holds a
     * run that {@code ttt train} must not silently replace.
     *
     * @param dir the directory
     * @return the names, sorted; empty if the directory does not exist
     * @throws IOException if the directory cannot be listed
     */
    public static List<String> contents(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(f -> f.getFileName().toString()).sorted().toList();
        }
    }

    /**
     * Deletes the files a model directory is made of (and temporary files a killed save left),
     * keeping any other file: what {@code ttt train --overwrite} does before a new run.
     *
     * @param dir the directory
     * @throws IOException if a file cannot be deleted
     */
    public static void clear(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return;
        }
        for (Path f : list(dir)) {
            if (isModelFile(f.getFileName().toString())) {
                deleteRecursively(f);
            }
        }
    }

    /**
     * Creates the folder a run that will {@link #replace} the model of {@code dir} trains into:
     * beside {@code dir} (the same file system, so that the swap is renames), named {@code
     * .NAME.overwriteNNNN}.
     *
     * @param dir the model directory
     * @return the new, empty folder
     * @throws IOException if it cannot be created
     */
    public static Path newStaging(Path dir) throws IOException {
        Path absolute = dir.toAbsolutePath();
        return Files.createTempDirectory(
                absolute.getParent(), "." + absolute.getFileName() + ".overwrite");
    }

    /**
     * Deletes a folder made by {@link #newStaging} and what it holds (a failed run's checkpoint);
     * nothing if it is gone already (after {@link #replace}).
     *
     * @param staging the folder
     * @throws IOException if a file cannot be deleted
     */
    public static void discardStaging(Path staging) throws IOException {
        if (Files.isDirectory(staging, LinkOption.NOFOLLOW_LINKS)) {
            deleteRecursively(staging);
        }
    }

    /**
     * Replaces the model of {@code dir} with the complete model of {@code staging} (a folder beside
     * it that a new run trained into), keeping every other file of {@code dir}: the new files are
     * moved in, {@code training.json} (the commit) last, then the old model's files that the new
     * model does not have are deleted, and {@code staging} is removed. What {@code ttt train
     * --overwrite} does once the new run has its final checkpoint, so that a run that fails leaves
     * the previous model as it was.
     *
     * @param dir the model directory (created if needed)
     * @param staging the new model's directory, on the same file system
     * @throws IOException if a file cannot be moved or deleted
     */
    public static void replace(Path dir, Path staging) throws IOException {
        Files.createDirectories(dir);
        List<String> incoming = new ArrayList<>();
        for (Path f : list(staging)) {
            String n = f.getFileName().toString();
            if (isModelFile(n) && !isLeftover(n)) {
                incoming.add(n);
            }
        }
        // weights and optimizer state first, the description next, the commit last
        incoming.sort(
                java.util.Comparator.comparingInt(
                        n ->
                                n.equals("training.json")
                                        ? 3
                                        : n.equals("config.json")
                                                ? 2
                                                : n.endsWith(".params") ? 0 : 1));
        for (String n : incoming) {
            Files.move(
                    staging.resolve(n),
                    dir.resolve(n),
                    StandardCopyOption.REPLACE_EXISTING,
                    StandardCopyOption.ATOMIC_MOVE);
        }
        for (Path f : list(dir)) {
            String n = f.getFileName().toString();
            if (isModelFile(n) && !incoming.contains(n)) {
                deleteRecursively(f);
            }
        }
        deleteRecursively(staging);
    }

    private static List<Path> list(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.collect(Collectors.toList());
        }
    }

    private static void deleteRecursively(Path f) throws IOException {
        // a link is deleted, never followed: what it points to is not the model's
        if (Files.isDirectory(f, LinkOption.NOFOLLOW_LINKS)) {
            for (Path child : list(f)) {
                deleteRecursively(child);
            }
        }
        Files.deleteIfExists(f);
    }

    /**
     * Saves a model (and, for resuming, the optimizer and training state).
     *
     * @param dir the directory (created if needed)
     * @param model the model, whose block is a {@link CausalLm}
     * @param tokenizer the tokenizer
     * @param optimizer the optimizer, or {@code null}
     * @param state the training state, or {@code null}
     * @throws IOException if writing fails
     */
    public static void save(
            Path dir, Model model, Tokenizer tokenizer, MaskedAdamW optimizer, TrainingState state)
            throws IOException {
        Files.createDirectories(dir);
        CausalLm lm = (CausalLm) model.getBlock();
        lm.getConfig().save(dir.resolve("config.json"));
        tokenizer.save(dir);
        writeServingProperties(dir.resolve("serving.properties"));
        int step = state == null ? 0 : state.step;
        String name = paramsName(step);
        Path staging = Files.createTempDirectory(dir, ".staging");
        try {
            model.setProperty("Epoch", Integer.toString(step));
            model.save(staging, MODEL_NAME);
            Files.move(
                    staging.resolve(name),
                    dir.resolve(name),
                    StandardCopyOption.REPLACE_EXISTING,
                    StandardCopyOption.ATOMIC_MOVE);
        } finally {
            deleteRecursively(staging);
        }
        Path optimizerFile = optimizerFile(dir, step);
        if (optimizer != null) {
            optimizer.save(optimizerFile, model.getNDManager());
        }
        holdForCrashTest(step);
        if (state != null) {
            state.save(dir.resolve("training.json")); // the commit: this checkpoint is complete
        } else {
            Files.deleteIfExists(dir.resolve("training.json"));
        }
        // the previous checkpoint, and temporary files of a save that was killed
        for (Path f : list(dir)) {
            String n = f.getFileName().toString();
            boolean oldParams = n.startsWith(MODEL_NAME + "-") && n.endsWith(".params");
            boolean oldOptimizer = n.startsWith("optimizer") && n.endsWith(".npz");
            boolean leftover = isLeftover(n);
            if ((oldParams && !n.equals(name))
                    || (oldOptimizer && (optimizer == null || !f.equals(optimizerFile)))
                    || leftover) {
                deleteRecursively(f);
            }
        }
    }

    /** See {@link #HOLD_SAVE_PROPERTY}: only the kill-during-save test sets it. */
    private static void holdForCrashTest(int step) {
        if (!Integer.toString(step).equals(System.getProperty(HOLD_SAVE_PROPERTY))) {
            return;
        }
        System.err.println("holding the checkpoint save of step " + step);
        System.err.flush();
        while (true) {
            try {
                Thread.sleep(60_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /**
     * Writes serving.properties for a new directory; in an existing one keeps the file as it is
     * (the user's defaults and settings), adding only a key DJL needs that it lacks.
     */
    private static void writeServingProperties(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            AtomicFiles.writeAtomically(file, SERVING_PROPERTIES);
            return;
        }
        String existing = Files.readString(file, StandardCharsets.UTF_8);
        Properties present = new Properties();
        present.load(new StringReader(existing));
        Map<String, String> missing = new LinkedHashMap<>();
        SERVING_KEYS.forEach(
                (k, v) -> {
                    if (!present.containsKey(k)) {
                        missing.put(k, v);
                    }
                });
        if (!missing.isEmpty()) {
            AtomicFiles.writeAtomically(
                    file,
                    existing
                            + (existing.isEmpty() || existing.endsWith("\n") ? "" : "\n")
                            + "# added by ttt-djl\n"
                            + keyLines(missing));
        }
    }

    private static String keyLines(Map<String, String> keys) {
        StringBuilder sb = new StringBuilder();
        keys.forEach((k, v) -> sb.append(k).append('=').append(v).append('\n'));
        return sb.toString();
    }

    private static Map<String, String> orderedMap(String... keysAndValues) {
        Map<String, String> map = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            map.put(keysAndValues[i], keysAndValues[i + 1]);
        }
        return map;
    }

    /**
     * Loads a saved model.
     *
     * @param dir the directory
     * @param device the device of the parameters
     * @return the model (its block a {@link CausalLm}) and its tokenizer
     * @throws IOException if a file is missing
     * @throws MalformedModelException if a file is corrupt or does not match the config
     */
    public static Loaded load(Path dir, Device device) throws IOException, MalformedModelException {
        if (!Files.isDirectory(dir)) {
            throw new IOException("no model directory " + dir);
        }
        if (!Files.isRegularFile(dir.resolve("config.json"))) {
            throw new IOException(
                    dir
                            + " is not a model directory: it has no config.json (expected a folder"
                            + " written by 'ttt train')");
        }
        TttConfig config = loadConfig(dir.resolve("config.json"));
        if (paramFiles(dir).isEmpty()) {
            throw new IOException("no " + MODEL_NAME + "-NNNN.params in " + dir);
        }
        Tokenizer tokenizer = Tokenizer.load(dir);
        if (tokenizer.vocabSize() > config.getVocabSize()) {
            throw new MalformedModelException(
                    dir
                            + ": the tokenizer has "
                            + tokenizer.vocabSize()
                            + " ids but the model only "
                            + config.getVocabSize());
        }
        TrainingState state = null;
        Map<String, Object> options = new HashMap<>();
        if (Files.isRegularFile(dir.resolve("training.json"))) {
            state = TrainingState.load(dir.resolve("training.json"));
            // the last complete checkpoint; a newer params file is from a save that was killed
            if (!Files.isRegularFile(dir.resolve(paramsName(state.step)))) {
                throw new MalformedModelException(
                        dir.resolve("training.json")
                                + " names the checkpoint of step "
                                + state.step
                                + " but "
                                + paramsName(state.step)
                                + " is missing");
            }
            options.put("epoch", state.step);
        }
        // the weights file's declared layout first: a config it cannot back (more layers, a
        // larger vocabulary) is refused before a model of that size is built
        Path params = state != null ? dir.resolve(paramsName(state.step)) : latestParamsFile(dir);
        Model model = Model.newInstance(MODEL_NAME, device);
        try {
            ModelShapes.requireSaved(config, ParamsHeaders.read(params), model.getNDManager());
        } catch (IOException | RuntimeException e) {
            model.close();
            throw e;
        } catch (MalformedModelException e) {
            model.close();
            throw new MalformedModelException(
                    e.getMessage().startsWith("the weights are ")
                            ? "the weights in "
                                    + dir
                                    + e.getMessage().substring("the weights".length())
                            : e.getMessage(),
                    e);
        }
        model.setDataType(DataType.FLOAT32);
        model.setBlock(new CausalLm(config));
        try {
            model.load(dir, MODEL_NAME, options);
        } catch (MalformedModelException e) {
            model.close();
            throw new MalformedModelException(
                    "the weights in "
                            + dir
                            + (e.getMessage().startsWith("the weights are ")
                                    ? e.getMessage().substring("the weights".length())
                                    : ": " + e.getMessage()),
                    e);
        } catch (IOException | RuntimeException | OutOfMemoryError e) {
            model.close();
            throw new MalformedModelException(
                    "the weights in "
                            + dir
                            + " are corrupt or truncated: "
                            + BoundedText.of(e.toString()),
                    e);
        }
        return new Loaded(model, (CausalLm) model.getBlock(), tokenizer, state);
    }

    private static final Pattern JSON_POSITION = Pattern.compile("line (\\d+) column (\\d+)");

    /**
     * Reads a {@code config.json}, reporting a bad one in one line that names the file (and, for
     * JSON that does not parse, the line and column), without a JSON library's class names or
     * links.
     *
     * @param file the config.json
     * @return the config
     * @throws IOException if the file cannot be read
     * @throws MalformedModelException if it is not a valid config
     */
    public static TttConfig loadConfig(Path file) throws IOException, MalformedModelException {
        try {
            return TttConfig.load(file);
        } catch (IllegalArgumentException | JsonParseException | ClassCastException e) {
            throw new MalformedModelException(configMessage(file, e), e);
        }
    }

    /** One line: the file, then the JSON position or the first line of the cause's message. */
    private static String configMessage(Path file, Exception e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof JsonParseException || t instanceof MalformedJsonException) {
                Matcher m = JSON_POSITION.matcher(String.valueOf(t.getMessage()));
                if (m.find()) {
                    return file
                            + ": not valid JSON at line "
                            + m.group(1)
                            + " column "
                            + m.group(2);
                }
            }
        }
        String message = String.valueOf(e.getMessage()).lines().findFirst().orElse("");
        String prefix = file + ": ";
        if (message.startsWith(prefix)) {
            message = message.substring(prefix.length());
        } else if (message.startsWith(file + " ")) {
            prefix = ""; // the message already starts with the file ("... is N bytes; ...")
        }
        // a JSON library's exception class named at the front of its message
        message = message.replaceFirst("^([a-z]+\\.)+[A-Za-z]*Exception: ", "");
        if (message.length() > 300) {
            message = message.substring(0, 300) + "… (" + message.length() + " characters)";
        }
        return prefix + message;
    }

    /**
     * The {@code .params} file DJL's loader reads when no epoch is given: the highest step.
     *
     * @param dir the model directory
     * @return the file
     * @throws IOException if there is none
     */
    public static Path latestParamsFile(Path dir) throws IOException {
        Path latest = null;
        int best = -1;
        for (Path f : paramFiles(dir)) {
            String n = f.getFileName().toString();
            String digits = n.substring(MODEL_NAME.length() + 1, n.length() - ".params".length());
            if (digits.matches("\\d{1,9}") && Integer.parseInt(digits) > best) {
                best = Integer.parseInt(digits);
                latest = f;
            }
        }
        if (latest == null) {
            throw new IOException("no " + MODEL_NAME + "-NNNN.params in " + dir);
        }
        return latest;
    }

    private static List<Path> paramFiles(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(
                            f -> {
                                String n = f.getFileName().toString();
                                return n.startsWith(MODEL_NAME + "-") && n.endsWith(".params");
                            })
                    .collect(Collectors.toList());
        }
    }

    /**
     * A loaded model directory.
     *
     * @param model the DJL model (close it when done)
     * @param lm its block
     * @param tokenizer the tokenizer
     * @param training the training state, or {@code null} if the directory has none
     */
    public record Loaded(Model model, CausalLm lm, Tokenizer tokenizer, TrainingState training)
            implements AutoCloseable {
        /** Closes the model and the tokenizer. */
        @Override
        public void close() {
            tokenizer.close();
            model.close();
        }
    }
}
