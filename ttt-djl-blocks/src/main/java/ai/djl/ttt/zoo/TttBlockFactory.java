package ai.djl.ttt.zoo;

import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.nn.Block;
import ai.djl.nn.BlockFactory;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.io.ModelShapes;
import ai.djl.ttt.io.ParamsHeaders;
import ai.djl.ttt.lm.CausalLm;
import ai.djl.ttt.runtime.BoundedText;
import ai.djl.ttt.training.ModelDirectory;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Stream;

/**
 * Rebuilds a {@link CausalLm} from the {@code config.json} of its model directory, so that DJL's
 * own loader ({@code Criteria.optModelPath(dir)}) needs no code: {@code ttt train} writes this
 * class's name as {@code blockFactory} in the directory's {@code serving.properties}.
 *
 * <p>Named in the {@code Criteria} as well ({@code .optArgument("blockFactory", new
 * TttBlockFactory())}), it is the first ttt-djl code DJL's loader runs on the folder, before DJL
 * falls back to a TorchScript file: a folder that is not a ttt-djl model then fails with what it
 * lacks instead of DJL's "{@code NAME.pt file not found}". Every failure is an {@link IOException}
 * naming the folder and what was expected (the types {@code newBlock} may throw; DJL's own loader
 * reports a folder without its model file the same way).
 */
public final class TttBlockFactory implements BlockFactory {

    private static final long serialVersionUID = 1L;

    /** What a folder must hold, for the messages. */
    static final String EXPECTED =
            "expected config.json, ttt-lm-NNNN.params and a tokenizer, as 'ttt train' writes them";

    /** {@inheritDoc} */
    @Override
    public Block newBlock(Model model, Path modelPath, Map<String, ?> arguments)
            throws IOException {
        try {
            TttTranslatorFactory.precision(arguments); // bfloat16 fails before any array exists
            TttConfig config = config(modelPath);
            String refused = refusal(config, modelPath, arguments, model);
            return refused == null ? new CausalLm(config) : new RefusedBlock(refused);
        } catch (IOException | IllegalArgumentException e) {
            // DJL's loader made the model for this block and drops it when the factory fails
            model.close();
            throw e;
        }
    }

    /** The folder's TTT config, or an exception that names the folder and what it lacks. */
    private static TttConfig config(Path modelPath) throws IOException {
        Path config = modelPath.resolve("config.json");
        if (!Files.isRegularFile(config)) {
            if (namesThisFactory(modelPath.resolve("serving.properties"))) {
                throw new FileNotFoundException(
                        modelPath
                                + " has no config.json: its serving.properties names"
                                + " TttBlockFactory, which rebuilds the model from it (a folder"
                                + " written by 'ttt train' has one)");
            }
            throw new FileNotFoundException(
                    modelPath
                            + " is not a ttt-djl model folder: it has no config.json ("
                            + holds(modelPath)
                            + "; "
                            + EXPECTED
                            + ")");
        }
        String foreign = TttModelZoo.foreignModel(config);
        if (foreign != null) {
            throw new IOException(
                    modelPath
                            + " is not a ttt-djl model folder: "
                            + foreign
                            + " ("
                            + EXPECTED
                            + ")");
        }
        try {
            return ModelDirectory.loadConfig(config);
        } catch (MalformedModelException e) {
            throw new IOException(e.getMessage(), e);
        }
    }

    /**
     * Why the folder's weights file cannot back the config ({@link ModelShapes#requireSaved}), or
     * {@code null} if it can or there is none (DJL's loader then says the file is missing).
     */
    private static String refusal(
            TttConfig config, Path modelPath, Map<String, ?> arguments, Model model)
            throws IOException {
        Object epoch = arguments == null ? null : arguments.get("epoch");
        Path params;
        if (epoch != null) {
            params =
                    modelPath.resolve(
                            String.format(
                                    Locale.ROOT,
                                    "%s-%04d.params",
                                    ModelDirectory.MODEL_NAME,
                                    Integer.parseInt(epoch.toString())));
        } else {
            try {
                params = ModelDirectory.latestParamsFile(modelPath);
            } catch (IOException e) {
                return null;
            }
        }
        if (!Files.isRegularFile(params)) {
            return null;
        }
        try {
            ModelShapes.requireSaved(config, ParamsHeaders.read(params), model.getNDManager());
            return null;
        } catch (MalformedModelException e) {
            return e.getMessage();
        }
    }

    /** Whether a serving.properties file exists and names this class as its block factory. */
    private static boolean namesThisFactory(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            return false;
        }
        Properties properties = new Properties();
        try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            properties.load(reader);
        }
        String named = properties.getProperty("blockFactory");
        return named != null && named.trim().equals(TttBlockFactory.class.getName());
    }

    /** "it holds a, b, c, ..." or "it is empty". */
    private static String holds(Path dir) throws IOException {
        List<String> names;
        try (Stream<Path> files = Files.list(dir)) {
            names = files.map(f -> f.getFileName().toString()).sorted().toList();
        }
        if (names.isEmpty()) {
            return "it is empty";
        }
        return "it holds " + BoundedText.firstNames(names, 4);
    }

    /** {@inheritDoc} */
    @Override
    public String toString() {
        // DJL's loader copies every Criteria argument into the model's properties as text
        return getClass().getName();
    }
}
