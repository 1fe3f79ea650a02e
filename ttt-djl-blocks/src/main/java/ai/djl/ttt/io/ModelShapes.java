package ai.djl.ttt.io;

import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.lm.CausalLm;
import ai.djl.ttt.nn.TttLayer;
import ai.djl.ttt.runtime.BoundedText;
import ai.djl.util.Pair;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The parameter shapes a config gives a model, computed before anything is allocated, and their
 * check against the shapes a file declares: a config whose {@code vocab_size} or {@code
 * num_hidden_layers} is not the file's is refused in milliseconds, before the model it describes
 * (perhaps many gigabytes) is built.
 *
 * <p>The shapes come from the model's own code: a twin of the model is initialized with a
 * placeholder (an empty array) for every parameter, so each block computes its parameters' shapes
 * as it always does and nothing of their size is allocated. The number of layers is compared first,
 * from the names alone, since even the twin's blocks cost memory per layer.
 */
public final class ModelShapes {

    private static final Pattern LAYER = Pattern.compile("^model\\.layers\\.(\\d{1,9})\\.");

    private ModelShapes() {}

    /**
     * Returns the official names and shapes of the parameters of the {@link CausalLm} a config
     * builds (no {@code lm_head.weight} with tied embeddings).
     *
     * @param config the config
     * @param parent the manager under which the twin's placeholders live while it is built
     * @return official name → shape, in the model's order
     */
    public static Map<String, Shape> causalLm(TttConfig config, NDManager parent) {
        CausalLm twin = new CausalLm(config);
        try (NDManager manager = parent.newSubManager()) {
            planShapes(twin, manager, new Shape(1, config.getMiniBatchSize()));
            Map<String, Shape> shapes = new LinkedHashMap<>();
            OfficialWeights.parameterNames(twin).forEach((k, p) -> shapes.put(k, p.getShape()));
            return shapes;
        }
    }

    /**
     * Returns the parameters of the {@link CausalLm} a config builds in the order DJL's {@code
     * Model.save} writes them ({@code Block.getParameters()}), with their shapes.
     *
     * @param config the config
     * @param parent the manager under which the twin's placeholders live while it is built
     * @return DJL name and shape of each parameter
     */
    public static List<Pair<String, Shape>> causalLmSaveOrder(TttConfig config, NDManager parent) {
        CausalLm twin = new CausalLm(config);
        try (NDManager manager = parent.newSubManager()) {
            planShapes(twin, manager, new Shape(1, config.getMiniBatchSize()));
            List<Pair<String, Shape>> shapes = new ArrayList<>();
            for (Pair<String, Parameter> p : twin.getParameters()) {
                shapes.add(new Pair<>(p.getKey(), p.getValue().getShape()));
            }
            return shapes;
        }
    }

    /**
     * Returns the official names and shapes of the parameters of the layer a config builds.
     *
     * @param config the config
     * @param parent the manager under which the twin's placeholders live while it is built
     * @return official name → shape
     */
    public static Map<String, Shape> layer(TttConfig config, NDManager parent) {
        TttLayer twin = TttLayer.fromConfig(config);
        try (NDManager manager = parent.newSubManager()) {
            planShapes(
                    twin, manager, new Shape(1, config.getMiniBatchSize(), config.getHiddenSize()));
            Map<String, Shape> shapes = new LinkedHashMap<>();
            OfficialWeights.parameterNames(twin).forEach((k, p) -> shapes.put(k, p.getShape()));
            return shapes;
        }
    }

    /** Initializes a block with an empty placeholder array for every parameter. */
    private static void planShapes(AbstractBlock block, NDManager manager, Shape input) {
        for (Pair<String, Parameter> p : block.getParameters()) {
            p.getValue().setInitializer((m, shape, type) -> m.create(new float[0]));
        }
        block.initialize(manager, DataType.FLOAT32, input);
    }

    /**
     * Checks the tensors of an official {@code TTTForCausalLM} state dict against a config before
     * the model is built: first the number of layers ({@code model.layers.N.}), then every
     * parameter's shape.
     *
     * @param config the config
     * @param declared the file's tensor names and shapes
     * @param source the file, for the message
     * @param parent the manager under which the twin's placeholders live while it is built
     * @throws IllegalArgumentException naming the config field or listing (bounded) the missing,
     *     unexpected and mis-shaped tensors
     */
    public static void requireCausalLm(
            TttConfig config, Map<String, Shape> declared, String source, NDManager parent) {
        TreeSet<Integer> layers = new TreeSet<>();
        for (String name : declared.keySet()) {
            Matcher m = LAYER.matcher(name);
            if (m.find()) {
                layers.add(Integer.parseInt(m.group(1)));
            }
        }
        int n = config.getNumHiddenLayers();
        boolean contiguous = layers.isEmpty() || layers.last() == layers.size() - 1;
        if (layers.size() != n || !contiguous) {
            throw new IllegalArgumentException(
                    source
                            + " does not match the config: num_hidden_layers is "
                            + n
                            + " but the file holds "
                            + (layers.isEmpty()
                                    ? "no model.layers.N tensors"
                                    : layers.size()
                                            + " layer"
                                            + (layers.size() == 1 ? "" : "s")
                                            + " (model.layers."
                                            + layers.first()
                                            + " to model.layers."
                                            + layers.last()
                                            + ")"));
        }
        Shape embedding = declared.get("model.embed_tokens.weight");
        Shape want = new Shape(config.getVocabSize(), config.getHiddenSize());
        if (embedding != null && !embedding.equals(want)) {
            throw new IllegalArgumentException(
                    source
                            + " does not match the config: model.embed_tokens.weight is "
                            + embedding
                            + " in the file but vocab_size "
                            + config.getVocabSize()
                            + " and hidden_size "
                            + config.getHiddenSize()
                            + " make it "
                            + want);
        }
        Map<String, Shape> expected = causalLm(config, parent);
        Map<String, Shape> seen = declared;
        if (!expected.containsKey("lm_head.weight")
                && declared.containsKey("lm_head.weight")
                && declared.get("lm_head.weight").equals(want)) {
            // the official tied model stores the embedding under both names (values: see load)
            seen = new LinkedHashMap<>(declared);
            seen.remove("lm_head.weight");
        }
        requireSame(expected, seen, source, "CausalLm");
    }

    /**
     * Checks the tensors of one layer's state dict against a config before the layer is built.
     *
     * @param config the config
     * @param declared the layer's tensor names (prefix removed) and shapes
     * @param source the file, for the message
     * @param parent the manager under which the twin's placeholders live while it is built
     * @throws IllegalArgumentException listing (bounded) the missing, unexpected and mis-shaped
     *     tensors
     */
    public static void requireLayer(
            TttConfig config, Map<String, Shape> declared, String source, NDManager parent) {
        requireSame(
                layer(config, parent),
                declared,
                source,
                TttLayer.fromConfig(config).getClass().getSimpleName());
    }

    /**
     * Checks a saved model's {@code .params} file against the config of its {@code config.json}
     * before the model is built: the config it was saved with, then the number of arrays (which
     * bounds {@code num_hidden_layers} by what the file holds), then every array's shape in DJL's
     * order.
     *
     * @param config the config of {@code config.json}
     * @param params the checked layout of the {@code .params} file
     * @param parent the manager under which the twin's placeholders live while it is built
     * @throws MalformedModelException naming the file and what differs
     */
    public static void requireSaved(TttConfig config, ParamsHeaders params, NDManager parent)
            throws MalformedModelException {
        Path file = params.getFile();
        TttConfig saved;
        try {
            saved = TttConfig.fromJson(params.getSavedConfig());
        } catch (IllegalArgumentException e) {
            throw new MalformedModelException(
                    file + " holds a corrupt config: " + BoundedText.of(e.getMessage()), e);
        }
        if (!saved.equals(config)) {
            List<String> differences = saved.differences(config);
            throw new MalformedModelException(
                    file
                            + " was saved with another config than config.json (saved vs"
                            + " config.json): "
                            + BoundedText.list(differences, "; "));
        }
        int n = config.getNumHiddenLayers();
        int one =
                new CausalLm(config.toBuilder().setNumHiddenLayers(1).build())
                        .getParameters()
                        .size();
        int two =
                new CausalLm(config.toBuilder().setNumHiddenLayers(2).build())
                        .getParameters()
                        .size();
        long expected = one + (long) (n - 1) * (two - one);
        int found = params.entries().size();
        if (found != expected) {
            throw new MalformedModelException(
                    file
                            + " holds "
                            + found
                            + " arrays but the config (num_hidden_layers = "
                            + n
                            + ") has "
                            + expected
                            + " parameters");
        }
        List<Pair<String, Shape>> want = causalLmSaveOrder(config, parent);
        List<String> problems = new ArrayList<>();
        for (int i = 0; i < want.size(); i++) {
            Shape have = params.entries().get(i).shape();
            if (!have.equals(want.get(i).getValue())) {
                problems.add(
                        "parameter "
                                + want.get(i).getKey()
                                + " has shape "
                                + have
                                + " in the file but the config gives "
                                + want.get(i).getValue());
            }
        }
        if (!problems.isEmpty()) {
            throw new MalformedModelException(
                    file
                            + " does not match its config ("
                            + problems.size()
                            + " problem"
                            + (problems.size() == 1 ? "" : "s")
                            + "): "
                            + BoundedText.list(problems, "; "));
        }
    }

    /**
     * Fails unless two name → shape maps are equal, listing every difference (the first few in
     * full, then a count).
     *
     * @param expected what the model has
     * @param declared what the file holds
     * @param source the file, for the message
     * @param target the model, for the message
     * @throws IllegalArgumentException listing the differences
     */
    static void requireSame(
            Map<String, Shape> expected,
            Map<String, Shape> declared,
            String source,
            String target) {
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, Shape> e : expected.entrySet()) {
            Shape found = declared.get(e.getKey());
            if (found == null) {
                problems.add(
                        "missing tensor '"
                                + e.getKey()
                                + "' (expected shape "
                                + e.getValue()
                                + ")");
            } else if (!found.equals(e.getValue())) {
                problems.add(
                        "tensor '"
                                + e.getKey()
                                + "' has shape "
                                + found
                                + " in the file but "
                                + target
                                + " expects "
                                + e.getValue());
            }
        }
        for (Map.Entry<String, Shape> e : declared.entrySet()) {
            if (!expected.containsKey(e.getKey())) {
                problems.add(
                        "unexpected tensor '"
                                + BoundedText.of(e.getKey())
                                + "' (shape "
                                + e.getValue()
                                + "): not a parameter of "
                                + target
                                + " with this config");
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(
                    source
                            + " does not match "
                            + target
                            + " ("
                            + problems.size()
                            + " problem"
                            + (problems.size() == 1 ? "" : "s")
                            + "): "
                            + BoundedText.list(problems, "; "));
        }
    }
}
