package ai.djl.ttt.io;

import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.lm.CausalLm;
import ai.djl.ttt.lm.ResidualBlock;
import ai.djl.ttt.nn.TttLayer;
import ai.djl.ttt.runtime.NoGrad;
import ai.djl.ttt.runtime.Precision;
import ai.djl.util.Pair;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Official PyTorch weights for TTT layers: the state-dict names of {@code ttt.py} (spec §7) and
 * their loading into a {@link TttLayer}.
 *
 * <p>The official shapes are kept as they are (DJL's {@code Linear} and {@code Conv1d} store
 * weights in PyTorch's {@code (out, in)} and {@code (C, 1, k)} layouts), so loading is a copy, with
 * a cast to the layer's data type.
 *
 * <pre>{@code
 * // one layer of an official TTTForCausalLM checkpoint
 * TttLayer layer = OfficialWeights.loadLayer(
 *         Path.of("config.json"), Path.of("model.safetensors"),
 *         "model.layers.0.seq_modeling_block.", manager, DataType.FLOAT32);
 * }</pre>
 */
public final class OfficialWeights {

    private OfficialWeights() {}

    /**
     * Returns the layer's parameters under their official state-dict names, in official order.
     *
     * @param layer the layer
     * @return official name → parameter
     */
    public static Map<String, Parameter> parameterNames(TttLayer layer) {
        Map<String, Parameter> names = new LinkedHashMap<>();
        putModulePath(names, "", layer);
        return names;
    }

    /**
     * Returns a language model's parameters under their official {@code TTTForCausalLM} state-dict
     * names (spec §7), e.g. {@code model.layers.0.seq_modeling_block.W1}. With tied embeddings
     * there is no {@code lm_head.weight} parameter. The attention baseline's layers use the names
     * {@code q_proj, k_proj, v_proj, o_proj} in place of a TTT layer's; linear attention adds
     * {@code post_norm}.
     *
     * @param model the model
     * @return official name → parameter
     */
    public static Map<String, Parameter> parameterNames(CausalLm model) {
        Map<String, Parameter> names = new LinkedHashMap<>();
        names.put("model.embed_tokens.weight", model.getEmbedding());
        List<ResidualBlock> blocks = model.getBlocks();
        for (int i = 0; i < blocks.size(); i++) {
            putModulePath(names, "model.layers." + i + ".", blocks.get(i));
        }
        putChild(names, "model.norm", model.getNorm(), "weight", "weight");
        if (model.getLmHead() != null) {
            names.put("lm_head.weight", model.getLmHead());
        }
        return names;
    }

    /**
     * Builds a language model from an official {@code config.json} and a state dict file.
     *
     * @param configJson the config (plain, or under {@code "ttt_config"})
     * @param tensors a {@code .safetensors} or {@code .npz} file of a {@code TTTForCausalLM}
     * @param manager the manager of the model's parameters
     * @param dataType the parameters' data type
     * @return the initialised model
     * @throws IOException if a file cannot be read
     * @throws MalformedModelException if the tensors file is corrupt
     */
    public static CausalLm loadModel(
            Path configJson, Path tensors, NDManager manager, DataType dataType)
            throws IOException, MalformedModelException {
        Precision.requireEngineType(dataType, "the weights' data type"); // before any array
        TttConfig config = TttConfig.load(configJson);
        try (StateDict dict = StateDict.load(manager, tensors)) {
            return loadModel(config, dict, manager, dataType);
        }
    }

    /**
     * Builds a language model for a config and loads its parameters from a state dict (strict; with
     * tied embeddings a {@code lm_head.weight} equal to the embedding is accepted).
     *
     * @param config the config
     * @param dict the model's tensors under their official names
     * @param manager the manager of the model's parameters
     * @param dataType the parameters' data type
     * @return the initialised model
     */
    public static CausalLm loadModel(
            TttConfig config, StateDict dict, NDManager manager, DataType dataType) {
        Precision.requireEngineType(dataType, "the weights' data type");
        CausalLm model = new CausalLm(config);
        model.initialize(manager, dataType, new Shape(1, config.getMiniBatchSize()));
        load(model, dict);
        return model;
    }

    /**
     * Copies official tensors into an initialised language model; strict as {@link #load(TttLayer,
     * StateDict)}.
     *
     * @param model the model
     * @param dict the tensors under their official names
     */
    public static void load(CausalLm model, StateDict dict) {
        StateDict used = dict;
        if (model.getLmHead() == null && dict.contains("lm_head.weight")) {
            // the official tied model stores the same tensor under both names
            NDArray head = dict.get("lm_head.weight");
            if (dict.contains("model.embed_tokens.weight")
                    && !head.contentEquals(dict.get("model.embed_tokens.weight"))) {
                throw new IllegalArgumentException(
                        dict.getSource()
                                + ": lm_head.weight differs from model.embed_tokens.weight but the"
                                + " config has tie_word_embeddings = true");
            }
            used = dict.filter(name -> !"lm_head.weight".equals(name));
        }
        copyAll(parameterNames(model), used, "CausalLm");
    }

    /**
     * Builds a layer from an official {@code config.json} and loads its parameters from an official
     * state dict file.
     *
     * @param configJson the config (plain, or under {@code "ttt_config"})
     * @param tensors a {@code .safetensors} or {@code .npz} file
     * @param prefix the name prefix of the layer in the file ("" for a layer's own state dict,
     *     {@code "model.layers.0.seq_modeling_block."} inside a causal LM)
     * @param manager the manager of the layer's parameters
     * @param dataType the parameters' data type ({@code FLOAT32}, or {@code FLOAT64} for checks)
     * @return the initialised layer
     * @throws IOException if a file cannot be read
     * @throws MalformedModelException if the tensors file is corrupt
     * @throws IllegalArgumentException if the config is invalid or the tensors do not match (see
     *     {@link #load})
     */
    public static TttLayer loadLayer(
            Path configJson, Path tensors, String prefix, NDManager manager, DataType dataType)
            throws IOException, MalformedModelException {
        Precision.requireEngineType(dataType, "the weights' data type"); // before any array
        TttConfig config = TttConfig.load(configJson);
        try (StateDict dict = StateDict.load(manager, tensors)) {
            return loadLayer(config, dict.withPrefix(prefix), manager, dataType);
        }
    }

    /**
     * Builds a layer for a config and loads its parameters from a state dict (strictly, see {@link
     * #load}).
     *
     * @param config the layer's config
     * @param dict the layer's own tensors (prefix already removed)
     * @param manager the manager of the layer's parameters
     * @param dataType the parameters' data type
     * @return the initialised layer
     */
    public static TttLayer loadLayer(
            TttConfig config, StateDict dict, NDManager manager, DataType dataType) {
        Precision.requireEngineType(dataType, "the weights' data type");
        TttLayer layer = TttLayer.fromConfig(config);
        layer.initialize(
                manager, dataType, new Shape(1, config.getMiniBatchSize(), config.getHiddenSize()));
        load(layer, dict);
        return layer;
    }

    /**
     * Copies official tensors into an initialised layer. Strict: every parameter must be present
     * with its exact shape, and every tensor of the dict must be a parameter of the layer. All
     * problems are reported at once, each naming the tensor and both shapes; nothing is copied
     * unless there is none.
     *
     * @param layer the initialised layer
     * @param dict the layer's tensors under their official names
     * @throws IllegalArgumentException listing missing, unexpected and mis-shaped tensors
     */
    public static void load(TttLayer layer, StateDict dict) {
        copyAll(parameterNames(layer), dict, layer.getClass().getSimpleName());
    }

    /** Strict copy: reports every missing, mis-shaped and unexpected tensor, or copies all. */
    private static void copyAll(Map<String, Parameter> expected, StateDict dict, String target) {
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, Parameter> e : expected.entrySet()) {
            Shape want = e.getValue().getArray().getShape();
            if (!dict.contains(e.getKey())) {
                problems.add("missing tensor '" + e.getKey() + "' (expected shape " + want + ")");
            } else if (!dict.get(e.getKey()).getShape().equals(want)) {
                problems.add(
                        "tensor '"
                                + e.getKey()
                                + "' has shape "
                                + dict.get(e.getKey()).getShape()
                                + " in the file but "
                                + target
                                + " expects "
                                + want);
            }
        }
        for (String name : dict.names()) {
            if (!expected.containsKey(name)) {
                problems.add(
                        "unexpected tensor '"
                                + name
                                + "' (shape "
                                + dict.get(name).getShape()
                                + "): not a parameter of "
                                + target
                                + " with this config");
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(
                    dict.getSource()
                            + " does not match "
                            + target
                            + ":\n  "
                            + String.join("\n  ", problems));
        }
        for (Map.Entry<String, Parameter> e : expected.entrySet()) {
            copy(dict.get(e.getKey()), e.getValue().getArray());
        }
    }

    /** Copies values in place, converting data type and device. */
    static void copy(NDArray source, NDArray destination) {
        NDArray converted =
                source.toDevice(destination.getDevice(), false)
                        .toType(destination.getDataType(), false);
        // a parameter's load is not an op to differentiate; with autograd on (any thread but the
        // engine's) libtorch refuses an in-place write to a leaf that requires gradients
        try (NoGrad off = NoGrad.open(destination.getManager())) {
            destination.set(new NDIndex("..."), converted);
        }
        if (converted != source) {
            converted.close();
        }
    }

    /**
     * Puts every parameter of a block under PyTorch's module path: its own parameters by their
     * names, then each child's under the child's name, in declaration order. The blocks are built
     * with the official names (the state-dict names are their module paths), so only two names
     * differ: DJL's child names carry an index prefix ({@code 01q_proj}), and DJL's {@code
     * LayerNorm} calls PyTorch's {@code weight}, {@code bias} {@code gamma}, {@code beta}.
     */
    private static void putModulePath(Map<String, Parameter> names, String prefix, Block block) {
        for (Pair<String, Parameter> p : block.getDirectParameters()) {
            String name = p.getKey();
            if (block instanceof LayerNorm) {
                name = "gamma".equals(name) ? "weight" : "beta".equals(name) ? "bias" : name;
            }
            names.put(prefix + name, p.getValue());
        }
        for (Pair<String, Block> child : block.getChildren()) {
            String name = child.getKey().replaceFirst("^\\d{2}", "");
            putModulePath(names, prefix + name + ".", child.getValue());
        }
    }

    private static void putChild(
            Map<String, Parameter> names, String child, Block block, String... officialToOurs) {
        if (block == null) {
            return;
        }
        for (int i = 0; i < officialToOurs.length; i += 2) {
            names.put(
                    child + "." + officialToOurs[i],
                    block.getParameters().get(officialToOurs[i + 1]));
        }
    }
}
