package ai.djl.ttt.training;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.ndarray.types.DataType;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.lm.CausalLm;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * A trained model on disk, everything needed to use or resume it:
 *
 * <ul>
 *   <li>{@code config.json}: the model's {@link TttConfig} (official keys);
 *   <li>{@code tokenizer.json} or {@code tokenizer.txt} (byte tokenizer);
 *   <li>{@code ttt-lm-NNNN.params}: the weights in DJL's format ({@code Model.save}), N = step;
 *   <li>{@code optimizer.npz}: AdamW's moments and step counts (resume);
 *   <li>{@code training.json}: settings, progress and validation history (resume);
 *   <li>{@code serving.properties}: the block factory and translator factory, for DJL's {@code
 *       Criteria} (see {@code ai.djl.ttt.zoo}).
 * </ul>
 *
 * Every file is written to a temporary file in the directory and moved into place, so a crash never
 * leaves a half-written file under a real name.
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
                    + "# temperature=0\n"
                    + "# topK=0\n"
                    + "# topP=1\n"
                    + "# seed=42\n";

    private ModelDirectory() {}

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
        Path staging = Files.createTempDirectory(dir, ".staging");
        try {
            model.setProperty("Epoch", Integer.toString(step));
            model.save(staging, MODEL_NAME);
            String name = String.format("%s-%04d.params", MODEL_NAME, step);
            Files.move(
                    staging.resolve(name),
                    dir.resolve(name),
                    StandardCopyOption.REPLACE_EXISTING,
                    StandardCopyOption.ATOMIC_MOVE);
            for (Path old : paramFiles(dir)) {
                if (!old.getFileName().toString().equals(name)) {
                    Files.delete(old);
                }
            }
        } finally {
            try (Stream<Path> files = Files.list(staging)) {
                for (Path f : files.collect(Collectors.toList())) {
                    Files.delete(f);
                }
            }
            Files.delete(staging);
        }
        if (optimizer != null) {
            optimizer.save(dir.resolve("optimizer.npz"), model.getNDManager());
        }
        if (state != null) {
            state.save(dir.resolve("training.json"));
        }
    }

    /**
     * Writes serving.properties for a new directory; in an existing one keeps the file as it is
     * (the user's defaults and settings), adding only a key DJL needs that it lacks.
     */
    private static void writeServingProperties(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            Files2.writeAtomically(file, SERVING_PROPERTIES);
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
            Files2.writeAtomically(
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
        TttConfig config;
        try {
            config = TttConfig.load(dir.resolve("config.json"));
        } catch (IllegalArgumentException e) {
            throw new MalformedModelException(e.getMessage(), e);
        }
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
        Model model = Model.newInstance(MODEL_NAME, device);
        model.setDataType(DataType.FLOAT32);
        model.setBlock(new CausalLm(config));
        try {
            model.load(dir, MODEL_NAME);
        } catch (MalformedModelException e) {
            model.close();
            throw e;
        } catch (IOException | RuntimeException e) {
            model.close();
            throw new MalformedModelException(
                    "the weights in " + dir + " are corrupt or truncated: " + e, e);
        }
        TrainingState state = null;
        if (Files.isRegularFile(dir.resolve("training.json"))) {
            state = TrainingState.load(dir.resolve("training.json"));
        }
        return new Loaded(model, (CausalLm) model.getBlock(), tokenizer, state);
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
