package ai.djl.ttt.zoo;

import ai.djl.repository.zoo.ModelLoader;
import ai.djl.repository.zoo.ModelZoo;
import java.io.IOException;
import java.io.UncheckedIOException;
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
 * JSON object. A {@code config.json} that cannot be read (truncated, not JSON, over {@code
 * ai.djl.ttt.zoo.maxConfigBytes}, 1 MiB by default) is listed with a debug log: loading it by name
 * says what is wrong, and a search goes past it. Listing never throws and reads each {@code
 * config.json} only up to its {@code model_type}, once per change of the file: DJL asks every zoo
 * for its models, also when it looks for another library's model.
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
            ConfigSniffer.Verdict verdict = ConfigSniffer.sniff(dir.resolve("config.json"));
            if (verdict.kind() == ConfigSniffer.Kind.FOREIGN) {
                logger.debug("skipping {}: {}", dir, verdict.reason());
                continue;
            }
            if (verdict.kind() == ConfigSniffer.Kind.BROKEN) {
                // listed all the same: asked for by name, its loading says what is wrong; in a
                // search it answers "not found" and the search goes on
                logger.debug("{} may be a broken TTT model: {}", dir, verdict.reason());
            }
            loaders.add(new TttModelLoader(dir));
        }
        return loaders;
    }

    /**
     * Why a {@code config.json} is not a TTT model's, or {@code null} if it may be one: its {@code
     * model_type} (at top level or under {@code "ttt_config"}) names another model, it is not a
     * JSON object, or it cannot be read as JSON (or is over the size the zoo reads). A TTT config
     * that is merely invalid is not refused here, so that loading it says why. Reads only as much
     * of the file as it needs ({@link ConfigSniffer}), once per change of the file.
     */
    static String foreignModel(Path config) {
        ConfigSniffer.Verdict verdict = ConfigSniffer.sniff(config);
        return verdict.kind() == ConfigSniffer.Kind.TTT ? null : verdict.reason();
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
