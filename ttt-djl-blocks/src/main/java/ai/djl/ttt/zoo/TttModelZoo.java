package ai.djl.ttt.zoo;

import ai.djl.repository.zoo.ModelLoader;
import ai.djl.repository.zoo.ModelZoo;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The ttt-djl model zoo, group {@value #GROUP_ID}: every model directory under the models folder,
 * as written by {@code ttt train} or as an official checkpoint (a {@code config.json} and {@code
 * .safetensors}/{@code .npz} state dict), is a model whose artifact id is the directory's name.
 *
 * <p>The models folder is the system property {@value #MODELS_PROPERTY}, else the environment
 * variable {@code TTT_MODELS}, else {@code models} (where {@code ttt train} saves). It is read each
 * time DJL asks for the zoo's models, so new directories appear without a restart.
 *
 * <pre>{@code
 * Criteria<String, String> criteria = Criteria.builder()
 *         .setTypes(String.class, String.class)
 *         .optGroupId(TttModelZoo.GROUP_ID)
 *         .optArtifactId("ttt-linear-mamba-small")     // or .optFilter("layer", "mlp")
 *         .optArgument("maxNewTokens", 100)
 *         .build();
 * try (ZooModel<String, String> model = criteria.loadModel();
 *         Predictor<String, String> predictor = model.newPredictor()) {
 *     String text = predictor.predict("The state ");
 * }
 * }</pre>
 *
 * Folders that are not TTT models are skipped with a debug log: a {@code config.json} whose {@code
 * model_type} is another model's (a Hugging Face model beside the TTT ones), or one that is not a
 * JSON object. Listing never throws: DJL asks every zoo for its models, also when it looks for
 * another library's model.
 *
 * <p>Filters ({@code optFilter}) match a model's {@code layer} ({@code linear}, {@code mlp}, {@code
 * attention}), {@code backbone} ({@code mamba}, {@code transformer}) and {@code format} ({@code
 * saved}, {@code official}).
 */
public final class TttModelZoo extends ModelZoo {

    private static final Logger logger = LoggerFactory.getLogger(TttModelZoo.class);

    /** The zoo's group id. */
    public static final String GROUP_ID = "ai.djl.ttt";

    /** The system property that names the models folder. */
    public static final String MODELS_PROPERTY = "ai.djl.ttt.models";

    /** {@inheritDoc} */
    @Override
    public String getGroupId() {
        return GROUP_ID;
    }

    /** {@inheritDoc} */
    @Override
    public Set<String> getSupportedEngines() {
        return Set.of("PyTorch");
    }

    /**
     * Returns the folder the zoo lists models from.
     *
     * @return the models folder
     */
    public static Path modelsFolder() {
        String configured = System.getProperty(MODELS_PROPERTY);
        if (configured == null) {
            configured = System.getenv("TTT_MODELS");
        }
        return Path.of(configured == null ? "models" : configured);
    }

    /**
     * Lists the model directories of the models folder, afresh at each call.
     *
     * @return one loader per model directory
     */
    @Override
    public Collection<ModelLoader> getModelLoaders() {
        Path folder = modelsFolder();
        if (!Files.isDirectory(folder)) {
            return List.of();
        }
        List<Path> dirs;
        try (Stream<Path> entries = Files.list(folder)) {
            dirs =
                    entries.filter(d -> Files.isRegularFile(d.resolve("config.json")))
                            .sorted()
                            .collect(Collectors.toList());
        } catch (IOException | UncheckedIOException e) {
            logger.debug("cannot list the models folder {}: {}", folder, e.toString());
            return List.of();
        }
        List<ModelLoader> loaders = new ArrayList<>();
        for (Path dir : dirs) {
            String foreign = foreignModel(dir.resolve("config.json"));
            if (foreign != null) {
                logger.debug("skipping {}: {}", dir, foreign);
                continue;
            }
            loaders.add(new TttModelLoader(dir));
        }
        return loaders;
    }

    /**
     * Why a {@code config.json} is not a TTT model's, or {@code null} if it may be one: its {@code
     * model_type} (at top level or under {@code "ttt_config"}) names another model, or it is not a
     * JSON object. A TTT config that is merely invalid is listed, so that loading it says why.
     */
    static String foreignModel(Path config) {
        JsonElement root;
        try {
            root = JsonParser.parseString(Files.readString(config, StandardCharsets.UTF_8));
        } catch (IOException | JsonParseException | UncheckedIOException e) {
            // one line: where the JSON breaks, not the parser's class name and links
            java.util.regex.Matcher at =
                    java.util.regex.Pattern.compile("line (\\d+) column (\\d+)")
                            .matcher(String.valueOf(e.getMessage()));
            return "config.json is not readable JSON"
                    + (at.find()
                            ? " (at line " + at.group(1) + " column " + at.group(2) + ")"
                            : "");
        }
        if (!root.isJsonObject()) {
            return "config.json is not a JSON object";
        }
        JsonObject object = root.getAsJsonObject();
        if (object.has("ttt_config") && object.get("ttt_config").isJsonObject()) {
            object = object.getAsJsonObject("ttt_config");
        }
        JsonElement type = object.get("model_type");
        if (type != null
                && !(type.isJsonPrimitive() && "ttt".equalsIgnoreCase(type.getAsString()))) {
            return "config.json has model_type " + type + ", not \"ttt\"";
        }
        return null;
    }

    /** {@inheritDoc} */
    @Override
    public ModelLoader getModelLoader(String name) {
        return getModelLoaders().stream()
                .filter(l -> l.getArtifactId().equals(name))
                .findFirst()
                .orElse(null);
    }
}
