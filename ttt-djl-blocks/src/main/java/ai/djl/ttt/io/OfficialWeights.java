package ai.djl.ttt.io;

import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.ttt.config.LayerType;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.lm.CausalLm;
import ai.djl.ttt.lm.ResidualBlock;
import ai.djl.ttt.nn.TttLayer;
import ai.djl.ttt.runtime.AtomicFiles;
import ai.djl.ttt.runtime.BoundedText;
import ai.djl.ttt.runtime.NoGrad;
import ai.djl.ttt.runtime.Precision;
import ai.djl.util.Pair;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Official PyTorch weights for TTT layers: the state-dict names of {@code ttt.py} (reference.md §7)
 * and their loading into a {@link TttLayer}.
 *
 * <p>The official shapes are kept as they are (DJL's {@code Linear} and {@code Conv1d} store
 * weights in PyTorch's {@code (out, in)} and {@code (C, 1, k)} layouts), so loading is a copy, with
 * a cast to the layer's data type.
 *
 * <p>The other way, {@link #save(CausalLm, Path)} exports a model as the official code reads it: a
 * folder with {@code config.json} (official keys) and {@code model.safetensors} (official names,
 * shapes and order), for {@code TTTForCausalLM.from_pretrained(dir)}; or, with {@link Format#JAX},
 * the JAX code's parameter names ({@link JaxNames}), which loading also reads.
 *
 * <pre>{@code
 * // one layer of an official TTTForCausalLM checkpoint
 * TttLayer layer = OfficialWeights.loadLayer(
 *         Path.of("config.json"), Path.of("model.safetensors"),
 *         "model.layers.0.seq_modeling_block.", manager, DataType.FLOAT32);
 *
 * // a ttt-djl model, for the official code
 * OfficialWeights.save(model, Path.of("exported"));
 * }</pre>
 */
public final class OfficialWeights {

    /**
     * The state dict file of an export (HuggingFace's name, which {@code from_pretrained} reads).
     */
    public static final String SAFETENSORS_FILE = "model.safetensors";

    /** The config file of an export. */
    public static final String CONFIG_FILE = "config.json";

    /** The state dict file of an export under the JAX code's names. */
    public static final String NPZ_FILE = "model.npz";

    /** Whose names and layouts an export uses. */
    public enum Format {
        /** ttt-lm-pytorch's {@code TTTForCausalLM} state dict, in {@value #SAFETENSORS_FILE}. */
        PYTORCH,
        /**
         * ttt-lm-jax's flax parameter names and layouts ({@link JaxNames}), in numpy's {@value
         * #NPZ_FILE}.
         */
        JAX;

        /**
         * Returns the format of a name, {@code pytorch} or {@code jax} (any case).
         *
         * @param name the name
         * @return the format
         * @throws IllegalArgumentException for any other name
         */
        public static Format fromName(String name) {
            for (Format f : values()) {
                if (f.name().equalsIgnoreCase(name.trim())) {
                    return f;
                }
            }
            throw new IllegalArgumentException(
                    "unknown export format '" + name + "': expected pytorch or jax");
        }

        /**
         * Returns the name of the tensors file this format writes.
         *
         * @return {@value #SAFETENSORS_FILE} or {@value #NPZ_FILE}
         */
        public String weightsFile() {
            return this == PYTORCH ? SAFETENSORS_FILE : NPZ_FILE;
        }
    }

    /** The inner MLP of the official TTT-MLP: one hidden layer of width 4f. */
    private static final List<Integer> OFFICIAL_MLP_HIDDEN = List.of(4);

    /**
     * The safetensors metadata of an export: the framework tag that HuggingFace's {@code
     * from_pretrained} checks ({@code pt}, as its {@code save_pretrained} writes it).
     */
    private static final Map<String, String> METADATA = Map.of("format", "pt");

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
     * names (reference.md §7), e.g. {@code model.layers.0.seq_modeling_block.W1}. With tied
     * embeddings there is no {@code lm_head.weight} parameter. The attention baseline's layers use
     * the names {@code q_proj, k_proj, v_proj, o_proj} in place of a TTT layer's; linear attention
     * adds {@code post_norm}.
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
        // the declared shapes first: a config the file cannot back is refused before anything of
        // its size is read or built
        TensorHeaders headers = TensorHeaders.read(tensors);
        ModelShapes.requireCausalLm(
                config, JaxNames.shapesAsPytorch(headers.shapes()), tensors.toString(), manager);
        try (StateDict dict = StateDict.load(manager, headers)) {
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
        ModelShapes.requireCausalLm(
                config, JaxNames.shapesAsPytorch(shapes(dict)), dict.getSource(), manager);
        CausalLm model = new CausalLm(config);
        model.initialize(manager, dataType, new Shape(1, config.getMiniBatchSize()));
        load(model, dict);
        return model;
    }

    /**
     * Copies official tensors into an initialised language model; strict as {@link #load(TttLayer,
     * StateDict)}. The tensors may be under the PyTorch names or under the JAX code's (a dict that
     * holds {@value JaxNames#EMBEDDING} is converted with {@link JaxNames}).
     *
     * @param model the model
     * @param dict the tensors under their official names
     */
    public static void load(CausalLm model, StateDict dict) {
        StateDict pytorch = JaxNames.asPytorch(dict, model.getEmbedding().getArray().getManager());
        try {
            loadPytorchNames(model, pytorch);
        } finally {
            if (pytorch != dict) {
                pytorch.close();
            }
        }
    }

    private static void loadPytorchNames(CausalLm model, StateDict dict) {
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
        try (StateDict dict = StateDict.load(manager, TensorHeaders.read(tensors))) {
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
        ModelShapes.requireLayer(config, shapes(dict), dict.getSource(), manager);
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

    /**
     * Exports a language model in the official PyTorch format; see {@link #save(CausalLm, Path,
     * List)}.
     *
     * @param model the initialised model
     * @param dir the folder to create (must not exist)
     * @throws IOException if the folder exists or cannot be written
     * @throws IllegalArgumentException if the official code cannot express the model (see {@link
     *     #requireOfficial})
     */
    public static void save(CausalLm model, Path dir) throws IOException {
        save(model, dir, List.of());
    }

    /**
     * Exports a language model as the official {@code TTTForCausalLM.from_pretrained(dir)} reads
     * it: a new folder with
     *
     * <ul>
     *   <li>{@code config.json}: the official {@code TTTConfig} keys (see {@link
     *       #officialConfigJson}), plus HuggingFace's {@code architectures}, {@code model_type} and
     *       {@code torch_dtype};
     *   <li>{@code model.safetensors}: every parameter under its official name, in the official
     *       {@code state_dict()} order, with its shape and data type, and, with tied embeddings,
     *       the embedding a second time as {@code lm_head.weight} (the official {@code
     *       state_dict()} holds both names, so a strict {@code load_state_dict} needs both);
     *   <li>{@code extraFiles}, copied (e.g. the tokenizer).
     * </ul>
     *
     * The folder is written under a temporary name beside it and renamed when complete, so it never
     * exists half-written. Reading it back with {@link #loadModel(Path, Path, NDManager, DataType)}
     * gives the same model.
     *
     * @param model the initialised model
     * @param dir the folder to create (must not exist)
     * @param extraFiles files to copy into the folder under their own names
     * @throws IOException if the folder exists, a file cannot be copied or writing fails
     * @throws IllegalArgumentException if the official code cannot express the model (see {@link
     *     #requireOfficial})
     */
    public static void save(CausalLm model, Path dir, List<Path> extraFiles) throws IOException {
        save(model, dir, Format.PYTORCH, extraFiles);
    }

    /**
     * Exports a language model in the official PyTorch format (see {@link #save(CausalLm, Path,
     * List)}) or under the JAX code's names: then the folder holds {@code config.json} (the same
     * official keys, which ttt-djl reads back) and {@value #NPZ_FILE}, every parameter under its
     * flax name ({@code params/model/h/0/seq_modeling_block/wq/kernel}, …) in the JAX layout
     * ({@link JaxNames}; a tied model has no {@code lm_head} kernel). The JAX code ties the shared
     * Q/K projection to the gate ({@code ttt_linear}/{@code ttt_mlp} have both, the {@code _base}
     * layers neither), so a model with one but not the other is refused in that format.
     *
     * @param model the initialised model
     * @param dir the folder to create (must not exist)
     * @param format whose names and layouts
     * @param extraFiles files to copy into the folder under their own names
     * @throws IOException if the folder exists, a file cannot be copied or writing fails
     * @throws IllegalArgumentException if the official code cannot express the model
     */
    public static void save(CausalLm model, Path dir, Format format, List<Path> extraFiles)
            throws IOException {
        TttConfig config = model.getConfig();
        requireOfficial(config);
        if (format == Format.JAX && config.isShareQk() != config.isUseGate()) {
            throw new IllegalArgumentException(
                    "share_qk "
                            + config.isShareQk()
                            + " with use_gate "
                            + config.isUseGate()
                            + " has no JAX counterpart: the JAX code's ttt_linear/ttt_mlp have"
                            + " both, ttt_linear_base/ttt_mlp_base neither (export it as pytorch)");
        }
        Map<String, Parameter> names = parameterNames(model);
        requireAllNamed(model, names);
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        names.forEach((name, p) -> tensors.put(name, arrayOf(name, p)));
        if (model.getLmHead() == null) {
            tensors.put("lm_head.weight", tensors.get("model.embed_tokens.weight"));
        }
        NDArray first = tensors.values().iterator().next();
        String json = officialConfigJson(config, "TTTForCausalLM", first.getDataType());
        if (format == Format.PYTORCH) {
            writeFolder(
                    dir,
                    json,
                    tmp -> writeSafetensors(tmp.resolve(SAFETENSORS_FILE), tensors),
                    extraFiles);
            return;
        }
        try (NDManager scratch = first.getManager().newSubManager()) {
            Map<String, NDArray> jax =
                    JaxNames.fromPytorch(tensors, model.getLmHead() == null, scratch);
            writeFolder(
                    dir, json, tmp -> writeNpz(tmp.resolve(NPZ_FILE), jax, scratch), extraFiles);
        }
    }

    /** Writes the tensors into the export's (temporary) folder, with plain file permissions. */
    private static void writeSafetensors(Path file, Map<String, NDArray> tensors)
            throws IOException {
        try (OutputStream os = new BufferedOutputStream(Files.newOutputStream(file), 1 << 20)) {
            Safetensors.write(os, tensors, METADATA);
        }
    }

    /** Writes named arrays as numpy's {@code .npz} (DJL's encoder writes standard files). */
    private static void writeNpz(Path file, Map<String, NDArray> tensors, NDManager scratch)
            throws IOException {
        NDList list = new NDList();
        for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
            // a handle of its own to name, so that no parameter's array is renamed
            NDArray named = e.getValue().reshape(e.getValue().getShape());
            named.attach(scratch);
            named.setName(e.getKey());
            list.add(named);
        }
        try (OutputStream os = new BufferedOutputStream(Files.newOutputStream(file), 1 << 20)) {
            list.encode(os, NDList.Encoding.NPZ);
        }
    }

    /**
     * Exports one TTT layer in the official format: a new folder with {@code config.json} (the
     * layer's config, official keys) and {@code model.safetensors} (the layer's parameters under
     * their official names without a prefix: the {@code state_dict()} of an official {@code
     * TTTLinear}/{@code TTTMLP}), written as {@link #save(CausalLm, Path, List)} writes a model.
     *
     * @param layer the initialised layer
     * @param dir the folder to create (must not exist)
     * @throws IOException if the folder exists or cannot be written
     * @throws IllegalArgumentException if the official code cannot express the layer
     */
    public static void save(TttLayer layer, Path dir) throws IOException {
        TttConfig config = layer.getConfig();
        requireOfficial(config);
        Map<String, Parameter> names = parameterNames(layer);
        requireAllNamed(layer, names);
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        names.forEach((name, p) -> tensors.put(name, arrayOf(name, p)));
        String json =
                officialConfigJson(
                        config,
                        config.getLayerType() == LayerType.MLP ? "TTTMLP" : "TTTLinear",
                        tensors.values().iterator().next().getDataType());
        writeFolder(
                dir,
                json,
                tmp -> writeSafetensors(tmp.resolve(SAFETENSORS_FILE), tensors),
                List.of());
    }

    /**
     * Checks that the official code can express a config: its {@code TTTConfig} knows only the
     * layer types {@code linear} and {@code mlp}, and its TTT-MLP's inner model is {@code f → 4f →
     * f}.
     *
     * @param config the config
     * @throws IllegalArgumentException naming the setting that has no official counterpart
     */
    public static void requireOfficial(TttConfig config) {
        LayerType type = config.getLayerType();
        if (!type.isTtt()) {
            throw new IllegalArgumentException(
                    "ttt_layer_type '"
                            + type.officialName()
                            + "' ("
                            + type.displayName()
                            + ") has no official counterpart: the official TTTConfig knows only"
                            + " 'linear' and 'mlp'");
        }
        List<Integer> hidden = config.getInnerHiddenMultiples();
        if (type == LayerType.MLP && !OFFICIAL_MLP_HIDDEN.equals(hidden)) {
            throw new IllegalArgumentException(
                    "ttt_inner_hidden_multiples "
                            + hidden
                            + " has no official counterpart: the official TTT-MLP's inner model is"
                            + " f -> 4f -> f (ttt_inner_hidden_multiples [4])");
        }
    }

    /**
     * Returns a config as the official code reads it: every official {@code TTTConfig} key (and not
     * ttt-djl's own {@code ttt_inner_hidden_multiples}: {@link #requireOfficial} limits it to the
     * official inner model, which {@link TttConfig#toJson()} leaves out), plus HuggingFace's
     * bookkeeping keys {@code architectures}, {@code model_type} ({@code "ttt"}, the official
     * {@code TTTConfig.model_type}) and {@code torch_dtype}, which ttt-djl reads and ignores.
     *
     * @param config the config (see {@link #requireOfficial})
     * @param architecture the official class the file is for, e.g. {@code TTTForCausalLM}
     * @param dataType the parameters' data type
     * @return pretty-printed JSON
     */
    public static String officialConfigJson(
            TttConfig config, String architecture, DataType dataType) {
        requireOfficial(config);
        JsonObject json = JsonParser.parseString(config.toJson()).getAsJsonObject();
        JsonArray architectures = new JsonArray();
        architectures.add(architecture);
        json.add("architectures", architectures);
        json.addProperty("model_type", "ttt");
        json.addProperty("torch_dtype", dataType.name().toLowerCase(Locale.ROOT));
        return new GsonBuilder()
                        .setPrettyPrinting()
                        .serializeNulls()
                        .disableHtmlEscaping()
                        .create()
                        .toJson(json)
                + "\n";
    }

    /** Refuses a block with a parameter that has no official name (it would not be exported). */
    private static void requireAllNamed(Block block, Map<String, Parameter> names) {
        Set<Parameter> named = Collections.newSetFromMap(new IdentityHashMap<>());
        named.addAll(names.values());
        for (Pair<String, Parameter> p : block.getParameters()) {
            if (!named.contains(p.getValue())) {
                throw new IllegalArgumentException(
                        "parameter '"
                                + p.getKey()
                                + "' of "
                                + block.getClass().getSimpleName()
                                + " has no official name");
            }
        }
    }

    private static NDArray arrayOf(String name, Parameter p) {
        if (!p.isInitialized()) {
            throw new IllegalArgumentException(
                    "parameter '"
                            + name
                            + "' is not initialised: initialise or load the model first");
        }
        return p.getArray();
    }

    /** Writes an export folder atomically: config, tensors (by {@code weights}), extra files. */
    private static void writeFolder(
            Path dir, String configJson, AtomicFiles.Writer weights, List<Path> extraFiles)
            throws IOException {
        for (Path f : extraFiles) {
            String n = f.getFileName().toString();
            if (n.equals(CONFIG_FILE) || n.equals(SAFETENSORS_FILE) || n.equals(NPZ_FILE)) {
                throw new IllegalArgumentException(
                        "extra file " + f + " would replace the export's own " + n);
            }
        }
        AtomicFiles.createFolderAtomically(
                dir,
                tmp -> {
                    Files.writeString(tmp.resolve(CONFIG_FILE), configJson, StandardCharsets.UTF_8);
                    weights.write(tmp);
                    for (Path f : extraFiles) {
                        Files.copy(f, tmp.resolve(f.getFileName().toString()));
                    }
                });
    }

    /** The declared shapes of a state dict's tensors. */
    private static Map<String, Shape> shapes(StateDict dict) {
        Map<String, Shape> shapes = new LinkedHashMap<>();
        for (String name : dict.names()) {
            shapes.put(name, dict.get(name).getShape());
        }
        return shapes;
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
                            + ": "
                            + BoundedText.list(problems, "; "));
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
