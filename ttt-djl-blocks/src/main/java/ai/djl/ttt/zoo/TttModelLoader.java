package ai.djl.ttt.zoo;

import ai.djl.Application;
import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.engine.EngineException;
import ai.djl.ndarray.types.DataType;
import ai.djl.repository.MRL;
import ai.djl.repository.Repository;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelLoader;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.TranslateException;
import ai.djl.translate.Translator;
import ai.djl.translate.TranslatorFactory;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.io.JaxNames;
import ai.djl.ttt.io.ModelShapes;
import ai.djl.ttt.io.OfficialWeights;
import ai.djl.ttt.io.StateDict;
import ai.djl.ttt.io.TensorHeaders;
import ai.djl.ttt.lm.CausalLm;
import ai.djl.ttt.runtime.BoundedText;
import ai.djl.ttt.training.ModelDirectory;
import ai.djl.ttt.training.Tokenizer;
import ai.djl.util.Progress;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Loads one model directory of the {@link TttModelZoo}: a directory written by {@code ttt train}
 * ({@link ModelDirectory}), or an official checkpoint (its {@code config.json} and one {@code
 * .safetensors} or {@code .npz} state dict under the official {@code TTTForCausalLM} names, plus an
 * optional {@code tokenizer.json}, or the byte tokenizer's {@code tokenizer.txt}).
 */
final class TttModelLoader implements ModelLoader {

    private final Path dir;
    private final String artifactId;

    TttModelLoader(Path dir) {
        this.dir = dir;
        this.artifactId = dir.getFileName().toString();
    }

    /** {@inheritDoc} */
    @Override
    public String getGroupId() {
        return TttModelZoo.GROUP_ID;
    }

    /** {@inheritDoc} */
    @Override
    public String getArtifactId() {
        return artifactId;
    }

    /** {@inheritDoc} */
    @Override
    public Application getApplication() {
        return Application.NLP.TEXT_GENERATION;
    }

    /** {@inheritDoc} */
    @Override
    public MRL getMrl() {
        return Repository.newInstance(artifactId, dir)
                .model(getApplication(), getGroupId(), artifactId, "local");
    }

    /** {@inheritDoc} */
    @Override
    public <I, O> ZooModel<I, O> loadModel(Criteria<I, O> criteria)
            throws IOException, ModelNotFoundException, MalformedModelException {
        Map<String, String> properties;
        try {
            properties = properties();
        } catch (MalformedModelException | IOException e) {
            if (!isAskedFor(criteria)) {
                // DJL tries every zoo's models in turn: a broken one that was not asked for by
                // name must not stop the search, for another library's model or, with a filter or
                // the group alone, for a valid TTT model in a later folder
                throw new ModelNotFoundException(artifactId + ": " + e.getMessage(), e);
            }
            throw e;
        }
        Map<String, String> filters =
                criteria.getFilters() == null ? Map.of() : criteria.getFilters();
        for (Map.Entry<String, String> filter : filters.entrySet()) {
            if (!filter.getValue().equals(properties.get(filter.getKey()))) {
                throw new ModelNotFoundException(
                        artifactId + " does not match " + filter + ": it has " + properties);
            }
        }
        // a bad precision (bfloat16) fails before any weight is read
        Map<String, Object> requested = new HashMap<>(servingProperties());
        if (criteria.getArguments() != null) {
            requested.putAll(criteria.getArguments());
        }
        TttTranslatorFactory.precision(requested);
        TranslatorFactory factory =
                criteria.getTranslatorFactory() != null
                        ? criteria.getTranslatorFactory()
                        : new TttTranslatorFactory();
        if (!factory.isSupported(criteria.getInputClass(), criteria.getOutputClass())) {
            throw new ModelNotFoundException(
                    "no translator for "
                            + criteria.getInputClass().getSimpleName()
                            + "→"
                            + criteria.getOutputClass().getSimpleName()
                            + "; supported: "
                            + factory.getSupportedTypes());
        }
        Device device =
                criteria.getDevice() != null
                        ? criteria.getDevice()
                        : Engine.getInstance().defaultDevice();
        Model model;
        Tokenizer tokenizer;
        if ("saved".equals(properties.get("format"))) {
            ModelDirectory.Loaded loaded = ModelDirectory.load(dir, device);
            model = loaded.model();
            tokenizer = loaded.tokenizer();
        } else {
            model = loadOfficial(device);
            // tokenizer.json, or the byte tokenizer's marker that 'ttt export' copies along
            boolean hasTokenizer =
                    Files.isRegularFile(dir.resolve("tokenizer.json"))
                            || Files.isRegularFile(dir.resolve("tokenizer.txt"));
            tokenizer = hasTokenizer ? Tokenizer.load(dir) : null;
        }
        Map<String, Object> arguments = new HashMap<>();
        if (criteria.getArguments() != null) {
            arguments.putAll(criteria.getArguments());
        }
        // serving.properties: defaults that the Criteria arguments override, as DJL's own loader
        // reads them (keys without the "option." prefix)
        servingProperties().forEach(arguments::putIfAbsent);
        if (tokenizer != null) {
            arguments.putIfAbsent(TttTranslatorFactory.TOKENIZER, tokenizer);
            model.getNDManager().attachInternal("tokenizer-" + UUID.randomUUID(), tokenizer);
        }
        try {
            Translator<I, O> translator =
                    factory.newInstance(
                            criteria.getInputClass(), criteria.getOutputClass(), model, arguments);
            return new TttZooModel<>(model, translator, artifactId);
        } catch (TranslateException | RuntimeException e) {
            model.close();
            throw new ModelNotFoundException(
                    "cannot make a translator for " + artifactId + ": " + e.getMessage(), e);
        }
    }

    /** Whether the criteria name this model, rather than search the zoo (or every zoo). */
    private boolean isAskedFor(Criteria<?, ?> criteria) {
        return artifactId.equals(criteria.getArtifactId());
    }

    private Model loadOfficial(Device device) throws IOException, MalformedModelException {
        TttConfig config = ModelDirectory.loadConfig(dir.resolve("config.json"));
        Path weights = officialWeightsFile();
        // the declared shapes first: a config the file cannot back is refused before anything of
        // its size is read or built
        TensorHeaders headers = TensorHeaders.read(weights);
        Model model = Model.newInstance(artifactId, device);
        try {
            ModelShapes.requireCausalLm(
                    config,
                    JaxNames.shapesAsPytorch(headers.shapes()),
                    weights.toString(),
                    model.getNDManager());
        } catch (IllegalArgumentException e) {
            model.close();
            throw new MalformedModelException(e.getMessage(), e);
        }
        try (StateDict dict = StateDict.load(model.getNDManager(), headers)) {
            CausalLm lm =
                    OfficialWeights.loadModel(config, dict, model.getNDManager(), DataType.FLOAT32);
            model.setBlock(lm);
            return model;
        } catch (IllegalArgumentException e) {
            model.close();
            throw new MalformedModelException(e.getMessage(), e);
        } catch (EngineException | OutOfMemoryError e) {
            model.close();
            throw new MalformedModelException(
                    weights + ": the model cannot be built here: " + BoundedText.of(e.getMessage()),
                    e);
        } catch (IOException | MalformedModelException | RuntimeException e) {
            model.close();
            throw e;
        }
    }

    private Path officialWeightsFile() throws IOException {
        List<Path> files;
        try (Stream<Path> entries = Files.list(dir)) {
            files =
                    entries.filter(
                                    f -> {
                                        String n = f.getFileName().toString();
                                        return n.endsWith(".safetensors") || n.endsWith(".npz");
                                    })
                            .sorted()
                            .collect(Collectors.toList());
        }
        if (files.size() != 1) {
            throw new IOException(
                    dir
                            + " should hold exactly one .safetensors or .npz state dict, found "
                            + files.stream().map(f -> f.getFileName().toString()).toList());
        }
        return files.get(0);
    }

    /** What the zoo's filters match: layer, backbone and format. */
    private Map<String, String> properties() throws MalformedModelException, IOException {
        TttConfig config = ModelDirectory.loadConfig(dir.resolve("config.json"));
        boolean saved;
        try (Stream<Path> entries = Files.list(dir)) {
            saved =
                    entries.anyMatch(
                            f -> {
                                String n = f.getFileName().toString();
                                return n.startsWith(ModelDirectory.MODEL_NAME + "-")
                                        && n.endsWith(".params");
                            });
        }
        Map<String, String> properties = new LinkedHashMap<>();
        properties.put("layer", config.getLayerType().officialName());
        properties.put("backbone", config.isPreConv() ? "mamba" : "transformer");
        properties.put("format", saved ? "saved" : "official");
        return properties;
    }

    /** The directory's serving.properties without its {@code option.*} keys; empty if none. */
    private Map<String, String> servingProperties() throws IOException {
        Path file = dir.resolve("serving.properties");
        Map<String, String> result = new LinkedHashMap<>();
        if (!Files.isRegularFile(file)) {
            return result;
        }
        Properties properties = new Properties();
        try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            properties.load(reader);
        }
        for (String key : properties.stringPropertyNames()) {
            if (!key.startsWith("option.")) {
                result.put(key, properties.getProperty(key));
            }
        }
        return result;
    }

    /** {@inheritDoc} */
    @Override
    public <I, O> boolean isDownloaded(Criteria<I, O> criteria) {
        return true;
    }

    /** {@inheritDoc} */
    @Override
    public <I, O> void downloadModel(Criteria<I, O> criteria, Progress progress) {
        // local directories: nothing to download
    }

    /** {@inheritDoc} */
    @Override
    public String toString() {
        return "TttModelLoader(" + dir + ")";
    }
}
