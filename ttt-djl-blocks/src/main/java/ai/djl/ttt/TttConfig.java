package ai.djl.ttt;

import ai.djl.MalformedModelException;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.function.Function;

/**
 * Every hyper-parameter of a TTT layer and of the language model around it, with the names, the
 * defaults and the presets of the official {@code TTTConfig} (ttt-lm-pytorch {@code ttt.py}, spec
 * §6).
 *
 * <p>The defaults are the official code's defaults, which are the <em>Transformer backbone</em>
 * variant of the paper (no pre-conv, separate Q/K projections, no gate). The paper's own models use
 * the <em>Mamba backbone</em>: see {@link Builder#mambaBackbone()} and {@link #paper(String,
 * LayerType)}.
 *
 * <p>A config reads and writes the official {@code config.json} keys ({@link #fromJson(String)},
 * {@link #toJson()}), so a checkpoint made by the official code loads without translation.
 *
 * <pre>{@code
 * TttConfig config = TttConfig.builder().setHiddenSize(64).setNumAttentionHeads(4).build();
 * TttConfig paper125m = TttConfig.paper("125m", LayerType.MLP); // Mamba backbone, base lr 0.1
 * }</pre>
 */
public final class TttConfig {

    /** The names of the official size presets ({@code TTT_STANDARD_CONFIGS}, spec §6.1). */
    public static final List<String> PRESETS = List.of("125m", "350m", "760m", "1b");

    /**
     * Keys of HuggingFace's {@code PretrainedConfig} that describe the file, the tokenizer or
     * HuggingFace's own generation defaults, not the computation of a TTT model: accepted in a
     * {@code config.json} (as {@code TTTConfig.to_dict()} writes them) and ignored.
     */
    private static final Set<String> IGNORED_KEYS =
            Set.of(
                    "_attn_implementation_internal",
                    "_commit_hash",
                    "_name_or_path",
                    "add_cross_attention",
                    "architectures",
                    "auto_map",
                    "bad_words_ids",
                    "begin_suppress_tokens",
                    "chunk_size_feed_forward",
                    "cross_attention_hidden_size",
                    "decoder_start_token_id",
                    "diversity_penalty",
                    "do_sample",
                    "early_stopping",
                    "encoder_no_repeat_ngram_size",
                    "exponential_decay_length_penalty",
                    "finetuning_task",
                    "forced_bos_token_id",
                    "forced_eos_token_id",
                    "id2label",
                    "is_decoder",
                    "is_encoder_decoder",
                    "label2id",
                    "length_penalty",
                    "max_length",
                    "min_length",
                    "model_type",
                    "no_repeat_ngram_size",
                    "num_beam_groups",
                    "num_beams",
                    "num_return_sequences",
                    "output_attentions",
                    "output_hidden_states",
                    "output_scores",
                    "prefix",
                    "problem_type",
                    "pruned_heads",
                    "remove_invalid_values",
                    "repetition_penalty",
                    "return_dict",
                    "return_dict_in_generate",
                    "sep_token_id",
                    "suppress_tokens",
                    "task_specific_params",
                    "temperature",
                    "tf_legacy_loss",
                    "tie_encoder_decoder",
                    "tokenizer_class",
                    "top_k",
                    "top_p",
                    "torch_dtype",
                    "torchscript",
                    "transformers_version",
                    "typical_p",
                    "use_bfloat16");

    /** The paper's TTT-MLP inner model: one hidden layer of width 4f. */
    private static final List<Integer> DEFAULT_MLP_HIDDEN = List.of(4);

    private static final Gson GSON =
            new GsonBuilder().setPrettyPrinting().serializeNulls().disableHtmlEscaping().create();

    private final int vocabSize;
    private final int hiddenSize;
    private final int intermediateSize;
    private final int numHiddenLayers;
    private final int numAttentionHeads;
    private final String hiddenAct;
    private final int maxPositionEmbeddings;
    private final double initializerRange;
    private final double rmsNormEps;
    private final boolean useCache;
    private final Integer padTokenId;
    private final Integer bosTokenId;
    private final Integer eosTokenId;
    private final int pretrainingTp;
    private final boolean tieWordEmbeddings;
    private final double ropeTheta;
    private final boolean useGate;
    private final boolean shareQk;
    private final LayerType layerType;
    private final double tttBaseLr;
    private final int miniBatchSize;
    private final boolean preConv;
    private final int convKernel;
    private final int scanCheckpointGroupSize;
    private final List<Integer> innerHiddenMultiples;

    private TttConfig(Builder b) {
        vocabSize = b.vocabSize;
        hiddenSize = b.hiddenSize;
        intermediateSize = b.intermediateSize;
        numHiddenLayers = b.numHiddenLayers;
        numAttentionHeads = b.numAttentionHeads;
        hiddenAct = b.hiddenAct;
        maxPositionEmbeddings = b.maxPositionEmbeddings;
        initializerRange = b.initializerRange;
        rmsNormEps = b.rmsNormEps;
        useCache = b.useCache;
        padTokenId = b.padTokenId;
        bosTokenId = b.bosTokenId;
        eosTokenId = b.eosTokenId;
        pretrainingTp = b.pretrainingTp;
        tieWordEmbeddings = b.tieWordEmbeddings;
        ropeTheta = b.ropeTheta;
        useGate = b.useGate;
        shareQk = b.shareQk;
        layerType = b.layerType;
        tttBaseLr = b.tttBaseLr;
        miniBatchSize = b.miniBatchSize;
        preConv = b.preConv;
        convKernel = b.convKernel;
        scanCheckpointGroupSize = b.scanCheckpointGroupSize;
        innerHiddenMultiples = b.innerHiddenMultiples;
    }

    /**
     * Returns a builder holding the official defaults.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Returns a builder initialised with every value of this config.
     *
     * @return a new builder
     */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.vocabSize = vocabSize;
        b.hiddenSize = hiddenSize;
        b.intermediateSize = intermediateSize;
        b.numHiddenLayers = numHiddenLayers;
        b.numAttentionHeads = numAttentionHeads;
        b.hiddenAct = hiddenAct;
        b.maxPositionEmbeddings = maxPositionEmbeddings;
        b.initializerRange = initializerRange;
        b.rmsNormEps = rmsNormEps;
        b.useCache = useCache;
        b.padTokenId = padTokenId;
        b.bosTokenId = bosTokenId;
        b.eosTokenId = eosTokenId;
        b.pretrainingTp = pretrainingTp;
        b.tieWordEmbeddings = tieWordEmbeddings;
        b.ropeTheta = ropeTheta;
        b.useGate = useGate;
        b.shareQk = shareQk;
        b.layerType = layerType;
        b.tttBaseLr = tttBaseLr;
        b.miniBatchSize = miniBatchSize;
        b.preConv = preConv;
        b.convKernel = convKernel;
        b.scanCheckpointGroupSize = scanCheckpointGroupSize;
        b.innerHiddenMultiples = innerHiddenMultiples;
        return b;
    }

    /**
     * Returns an official size preset with every other field at its official default (Transformer
     * backbone, TTT-Linear, base lr 1.0), exactly as {@code
     * TTTConfig(**TTT_STANDARD_CONFIGS[name])}.
     *
     * @param name one of {@link #PRESETS}
     * @return the config
     * @throws IllegalArgumentException for an unknown preset name
     */
    public static TttConfig preset(String name) {
        return builder().preset(name).build();
    }

    /**
     * Returns the configuration of the paper's model of the given size: the Mamba backbone
     * (pre-conv, shared Q/K with causal convs, GELU gate) and the paper's inner learning rate (1.0
     * for TTT-Linear, 0.1 for TTT-MLP; spec §6.2, §8).
     *
     * @param size one of {@link #PRESETS}
     * @param type the inner model
     * @return the config
     */
    public static TttConfig paper(String size, LayerType type) {
        return builder()
                .preset(size)
                .mambaBackbone()
                .setLayerType(type)
                .setTttBaseLr(type.paperBaseLr())
                .build();
    }

    /**
     * Parses an official {@code config.json} object. Every key must be an official {@code
     * TTTConfig} key (or a HuggingFace bookkeeping key such as {@code architectures}, ignored);
     * missing keys take the official defaults.
     *
     * @param json the JSON text of one config object
     * @return the config
     * @throws IllegalArgumentException on malformed JSON, an unknown key, a value of the wrong type
     *     or an invalid combination (see {@link Builder#build()})
     */
    public static TttConfig fromJson(String json) {
        JsonElement root;
        try {
            root = JsonParser.parseString(json);
        } catch (JsonParseException e) {
            throw new IllegalArgumentException("config is not valid JSON: " + e.getMessage(), e);
        }
        if (!root.isJsonObject()) {
            throw new IllegalArgumentException("config must be a JSON object, got: " + root);
        }
        return fromJson(root.getAsJsonObject());
    }

    /**
     * Parses an official config object; see {@link #fromJson(String)}.
     *
     * @param json the config object
     * @return the config
     */
    public static TttConfig fromJson(JsonObject json) {
        Builder b = builder();
        for (Map.Entry<String, JsonElement> e : json.entrySet()) {
            String key = e.getKey();
            if (IGNORED_KEYS.contains(key)) {
                continue;
            }
            if ("rope_scaling".equals(key)) {
                if (!e.getValue().isJsonNull()) {
                    throw new IllegalArgumentException(
                            "rope_scaling is not supported (the official TTT code documents it but"
                                    + " never applies it): expected null, got "
                                    + e.getValue());
                }
                continue;
            }
            Key k = Key.byName(key);
            if (k == null) {
                throw new IllegalArgumentException(
                        "Unknown config key '" + key + "'; known keys: " + Key.names());
            }
            k.read(b, e.getValue());
        }
        return b.build();
    }

    /**
     * Reads a {@code config.json} file: either a plain official config object, or an object that
     * holds the official config under {@code "ttt_config"} (the layout of the reference fixtures).
     *
     * @param file the file
     * @return the config
     * @throws IOException if the file cannot be read
     * @throws IllegalArgumentException if its content is not a valid config (the message names the
     *     file)
     */
    public static TttConfig load(Path file) throws IOException {
        String text = Files.readString(file, StandardCharsets.UTF_8);
        try {
            JsonElement root = JsonParser.parseString(text);
            if (root.isJsonObject() && root.getAsJsonObject().has("ttt_config")) {
                return fromJson(root.getAsJsonObject().getAsJsonObject("ttt_config"));
            }
            return fromJson(text);
        } catch (JsonParseException | IllegalArgumentException | ClassCastException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Writes this config as an official {@code config.json}, atomically (a temporary file in the
     * same directory, then a move).
     *
     * @param file the destination
     * @throws IOException if the file cannot be written
     */
    public void save(Path file) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, file.getFileName().toString(), ".tmp");
        try {
            Files.writeString(tmp, toJson() + "\n", StandardCharsets.UTF_8);
            Files.move(
                    tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * Returns this config as official {@code config.json} text, keys in the official order.
     *
     * @return pretty-printed JSON
     */
    public String toJson() {
        JsonObject json = new JsonObject();
        for (Key k : Key.ALL) {
            JsonElement value = k.write(this);
            if (value != null) {
                json.add(k.officialName, value);
            }
        }
        return GSON.toJson(json);
    }

    /**
     * Returns the size of the token vocabulary ({@code vocab_size}).
     *
     * @return the vocabulary size V
     */
    public int getVocabSize() {
        return vocabSize;
    }

    /**
     * Returns the model width ({@code hidden_size}).
     *
     * @return C
     */
    public int getHiddenSize() {
        return hiddenSize;
    }

    /**
     * Returns the width of the SwiGLU feed-forward block ({@code intermediate_size}).
     *
     * @return I
     */
    public int getIntermediateSize() {
        return intermediateSize;
    }

    /**
     * Returns the number of residual blocks ({@code num_hidden_layers}).
     *
     * @return the number of layers
     */
    public int getNumHiddenLayers() {
        return numHiddenLayers;
    }

    /**
     * Returns the number of TTT heads ({@code num_attention_heads}).
     *
     * @return H
     */
    public int getNumAttentionHeads() {
        return numAttentionHeads;
    }

    /**
     * Returns the width of one head, {@code hidden_size / num_attention_heads}.
     *
     * @return f
     */
    public int getHeadDim() {
        return hiddenSize / numAttentionHeads;
    }

    /**
     * Returns the activation of the feed-forward block ({@code hidden_act}; only {@code silu}).
     *
     * @return the activation name
     */
    public String getHiddenAct() {
        return hiddenAct;
    }

    /**
     * Returns {@code max_position_embeddings}; kept for round trips, the official TTT layers do not
     * use it (RoPE positions restart every mini-batch).
     *
     * @return the value
     */
    public int getMaxPositionEmbeddings() {
        return maxPositionEmbeddings;
    }

    /**
     * Returns the standard deviation of the normal initialisation of projections and embeddings
     * ({@code initializer_range}).
     *
     * @return the standard deviation
     */
    public double getInitializerRange() {
        return initializerRange;
    }

    /**
     * Returns the epsilon of the model's RMSNorms ({@code rms_norm_eps}).
     *
     * @return epsilon
     */
    public double getRmsNormEps() {
        return rmsNormEps;
    }

    /**
     * Returns the official {@code use_cache} flag (kept for round trips; generation here always
     * carries a recurrent state).
     *
     * @return the flag
     */
    public boolean isUseCache() {
        return useCache;
    }

    /**
     * Returns the padding token id ({@code pad_token_id}), or {@code null}.
     *
     * @return the id or null
     */
    public Integer getPadTokenId() {
        return padTokenId;
    }

    /**
     * Returns the beginning-of-sequence token id ({@code bos_token_id}), or {@code null}.
     *
     * @return the id or null
     */
    public Integer getBosTokenId() {
        return bosTokenId;
    }

    /**
     * Returns the end-of-sequence token id ({@code eos_token_id}), or {@code null}.
     *
     * @return the id or null
     */
    public Integer getEosTokenId() {
        return eosTokenId;
    }

    /**
     * Returns {@code pretraining_tp}; values above 1 only slice the same computation.
     *
     * @return the value
     */
    public int getPretrainingTp() {
        return pretrainingTp;
    }

    /**
     * Returns whether the LM head shares the embedding matrix ({@code tie_word_embeddings}).
     *
     * @return true if tied
     */
    public boolean isTieWordEmbeddings() {
        return tieWordEmbeddings;
    }

    /**
     * Returns the RoPE base θ ({@code rope_theta}).
     *
     * @return θ
     */
    public double getRopeTheta() {
        return ropeTheta;
    }

    /**
     * Returns whether the TTT output is gated by {@code gelu_tanh(X Wg)} ({@code use_gate}).
     *
     * @return true with the gate
     */
    public boolean isUseGate() {
        return useGate;
    }

    /**
     * Returns whether Q and K come from one projection followed by two causal depthwise
     * convolutions ({@code share_qk}).
     *
     * @return true for shared Q/K
     */
    public boolean isShareQk() {
        return shareQk;
    }

    /**
     * Returns the inner model ({@code ttt_layer_type}).
     *
     * @return the layer type
     */
    public LayerType getLayerType() {
        return layerType;
    }

    /**
     * Returns the base inner learning rate η_base ({@code ttt_base_lr}).
     *
     * @return η_base
     */
    public double getTttBaseLr() {
        return tttBaseLr;
    }

    /**
     * Returns the TTT mini-batch size b ({@code mini_batch_size}).
     *
     * @return b
     */
    public int getMiniBatchSize() {
        return miniBatchSize;
    }

    /**
     * Returns whether each block starts with a causal convolution sub-block ({@code pre_conv}).
     *
     * @return true with the pre-conv
     */
    public boolean isPreConv() {
        return preConv;
    }

    /**
     * Returns the kernel width of the causal convolutions ({@code conv_kernel}).
     *
     * @return the kernel width
     */
    public int getConvKernel() {
        return convKernel;
    }

    /**
     * Returns {@code scan_checkpoint_group_size} (kept for round trips; in the official code it is
     * the number of checkpoint groups, not their size).
     *
     * @return the value
     */
    public int getScanCheckpointGroupSize() {
        return scanCheckpointGroupSize;
    }

    /**
     * Returns the hidden layers of the inner model, each width a multiple of the head dim f ({@code
     * ttt_inner_hidden_multiples}, a ttt-djl key): none for TTT-Linear and the attention baselines,
     * {@code [4]} for TTT-MLP unless set (the paper's {@code f → 4f → f}), or what the config sets,
     * e.g. {@code [4, 4]} for a three-layer inner MLP.
     *
     * @return the multiples, input side first (unmodifiable)
     */
    public List<Integer> getInnerHiddenMultiples() {
        if (innerHiddenMultiples != null) {
            return innerHiddenMultiples;
        }
        return layerType == LayerType.MLP ? DEFAULT_MLP_HIDDEN : List.of();
    }

    /** {@inheritDoc} */
    @Override
    public boolean equals(Object o) {
        return o instanceof TttConfig && ((TttConfig) o).toJson().equals(toJson());
    }

    /** {@inheritDoc} */
    @Override
    public int hashCode() {
        return toJson().hashCode();
    }

    /** {@inheritDoc} */
    @Override
    public String toString() {
        return "TttConfig" + toJson();
    }

    /**
     * Checks a config saved with a block's parameters against the config the block was built with:
     * loading weights into a block of another shape must fail, not half-succeed.
     *
     * @param savedJson the saved config, as {@link #toJson()} wrote it
     * @param owner what the config belongs to, for the message (e.g. "TttLinear")
     * @throws MalformedModelException if the saved config is unreadable or differs, naming the
     *     differences
     */
    public void requireSameAs(String savedJson, String owner) throws MalformedModelException {
        TttConfig saved;
        try {
            saved = fromJson(savedJson);
        } catch (IllegalArgumentException e) {
            throw new MalformedModelException("corrupt " + owner + " config: " + e.getMessage(), e);
        }
        if (!saved.equals(this)) {
            throw new MalformedModelException(
                    "the saved "
                            + owner
                            + " has a different config (saved vs this block): "
                            + saved.differences(this));
        }
    }

    /**
     * Lists the keys whose values differ between this config and another one.
     *
     * @param other the other config
     * @return "key: this → other" entries, empty if the configs are equal
     */
    public List<String> differences(TttConfig other) {
        List<String> out = new ArrayList<>();
        for (Key k : Key.ALL) {
            JsonElement a = k.write(this);
            JsonElement b = k.write(other);
            if (!Objects.equals(a, b)) {
                out.add(k.officialName + ": " + a + " vs " + b);
            }
        }
        return out;
    }

    /** An official key with its reader and writer. */
    private static final class Key {

        /** The official keys, in the official order. */
        static final List<Key> ALL =
                List.of(
                        intKey("vocab_size", Builder::setVocabSize, TttConfig::getVocabSize),
                        intKey("hidden_size", Builder::setHiddenSize, TttConfig::getHiddenSize),
                        intKey(
                                "intermediate_size",
                                Builder::setIntermediateSize,
                                TttConfig::getIntermediateSize),
                        intKey(
                                "num_hidden_layers",
                                Builder::setNumHiddenLayers,
                                TttConfig::getNumHiddenLayers),
                        intKey(
                                "num_attention_heads",
                                Builder::setNumAttentionHeads,
                                TttConfig::getNumAttentionHeads),
                        new Key(
                                "hidden_act",
                                (b, v) -> b.setHiddenAct(asString("hidden_act", v)),
                                c -> new JsonPrimitive(c.hiddenAct)),
                        intKey(
                                "max_position_embeddings",
                                Builder::setMaxPositionEmbeddings,
                                TttConfig::getMaxPositionEmbeddings),
                        doubleKey(
                                "initializer_range",
                                Builder::setInitializerRange,
                                TttConfig::getInitializerRange),
                        doubleKey("rms_norm_eps", Builder::setRmsNormEps, TttConfig::getRmsNormEps),
                        booleanKey("use_cache", Builder::setUseCache, TttConfig::isUseCache),
                        nullableIntKey(
                                "pad_token_id", Builder::setPadTokenId, TttConfig::getPadTokenId),
                        nullableIntKey(
                                "bos_token_id", Builder::setBosTokenId, TttConfig::getBosTokenId),
                        nullableIntKey(
                                "eos_token_id", Builder::setEosTokenId, TttConfig::getEosTokenId),
                        intKey(
                                "pretraining_tp",
                                Builder::setPretrainingTp,
                                TttConfig::getPretrainingTp),
                        booleanKey(
                                "tie_word_embeddings",
                                Builder::setTieWordEmbeddings,
                                TttConfig::isTieWordEmbeddings),
                        doubleKey("rope_theta", Builder::setRopeTheta, TttConfig::getRopeTheta),
                        booleanKey("use_gate", Builder::setUseGate, TttConfig::isUseGate),
                        booleanKey("share_qk", Builder::setShareQk, TttConfig::isShareQk),
                        new Key(
                                "ttt_layer_type",
                                (b, v) ->
                                        b.setLayerType(
                                                LayerType.fromOfficialName(
                                                        asString("ttt_layer_type", v))),
                                c -> new JsonPrimitive(c.layerType.officialName())),
                        doubleKey("ttt_base_lr", Builder::setTttBaseLr, TttConfig::getTttBaseLr),
                        intKey(
                                "mini_batch_size",
                                Builder::setMiniBatchSize,
                                TttConfig::getMiniBatchSize),
                        booleanKey("pre_conv", Builder::setPreConv, TttConfig::isPreConv),
                        intKey("conv_kernel", Builder::setConvKernel, TttConfig::getConvKernel),
                        intKey(
                                "scan_checkpoint_group_size",
                                Builder::setScanCheckpointGroupSize,
                                TttConfig::getScanCheckpointGroupSize),
                        // a ttt-djl key, written only when it differs from the layer's default
                        new Key(
                                "ttt_inner_hidden_multiples",
                                (b, v) ->
                                        b.setInnerHiddenMultiples(
                                                asIntList("ttt_inner_hidden_multiples", v)),
                                c -> {
                                    if (c.innerHiddenMultiples == null) {
                                        return null;
                                    }
                                    JsonArray a = new JsonArray();
                                    c.innerHiddenMultiples.forEach(a::add);
                                    return a;
                                }));

        private static final Map<String, Key> BY_NAME = new LinkedHashMap<>();

        static {
            for (Key k : ALL) {
                BY_NAME.put(k.officialName, k);
            }
        }

        final String officialName;
        private final BiConsumer<Builder, JsonElement> reader;
        private final Function<TttConfig, JsonElement> writer;

        private Key(
                String officialName,
                BiConsumer<Builder, JsonElement> reader,
                Function<TttConfig, JsonElement> writer) {
            this.officialName = officialName;
            this.reader = reader;
            this.writer = writer;
        }

        void read(Builder b, JsonElement v) {
            reader.accept(b, v);
        }

        JsonElement write(TttConfig c) {
            return writer.apply(c);
        }

        static Key byName(String name) {
            return BY_NAME.get(name);
        }

        static Set<String> names() {
            return BY_NAME.keySet();
        }

        private static Key intKey(
                String name, BiConsumer<Builder, Integer> set, Function<TttConfig, Integer> get) {
            return new Key(name, (b, v) -> set.accept(b, asInt(name, v)), c -> json(get.apply(c)));
        }

        private static Key nullableIntKey(
                String name, BiConsumer<Builder, Integer> set, Function<TttConfig, Integer> get) {
            return new Key(
                    name,
                    (b, v) -> set.accept(b, v.isJsonNull() ? null : asInt(name, v)),
                    c -> json(get.apply(c)));
        }

        private static Key doubleKey(
                String name, BiConsumer<Builder, Double> set, Function<TttConfig, Double> get) {
            return new Key(
                    name, (b, v) -> set.accept(b, asDouble(name, v)), c -> json(get.apply(c)));
        }

        private static Key booleanKey(
                String name, BiConsumer<Builder, Boolean> set, Function<TttConfig, Boolean> get) {
            return new Key(
                    name,
                    (b, v) -> {
                        if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isBoolean()) {
                            throw new IllegalArgumentException(
                                    name + " must be true or false, got " + v);
                        }
                        set.accept(b, v.getAsBoolean());
                    },
                    c -> new JsonPrimitive(get.apply(c)));
        }

        private static JsonElement json(Number n) {
            return n == null ? JsonNull.INSTANCE : new JsonPrimitive(n);
        }

        private static int asInt(String name, JsonElement v) {
            double d = asDouble(name, v);
            if (d != Math.rint(d) || Math.abs(d) > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(name + " must be an integer, got " + v);
            }
            return (int) d;
        }

        private static double asDouble(String name, JsonElement v) {
            if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isNumber()) {
                throw new IllegalArgumentException(name + " must be a number, got " + v);
            }
            return v.getAsDouble();
        }

        private static List<Integer> asIntList(String name, JsonElement v) {
            if (!v.isJsonArray()) {
                throw new IllegalArgumentException(name + " must be a list of integers, got " + v);
            }
            List<Integer> list = new ArrayList<>();
            for (JsonElement e : v.getAsJsonArray()) {
                list.add(asInt(name, e));
            }
            return list;
        }

        private static String asString(String name, JsonElement v) {
            if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isString()) {
                throw new IllegalArgumentException(name + " must be a string, got " + v);
            }
            return v.getAsString();
        }
    }

    /**
     * Builds a {@link TttConfig}. Setters are named after the official keys; {@link #build()}
     * validates the combination.
     */
    public static final class Builder {

        private int vocabSize = 32000;
        private int hiddenSize = 2048;
        private int intermediateSize = 5504;
        private int numHiddenLayers = 24;
        private int numAttentionHeads = 32;
        private String hiddenAct = "silu";
        private int maxPositionEmbeddings = 2048;
        private double initializerRange = 0.02;
        private double rmsNormEps = 1e-6;
        private boolean useCache;
        private Integer padTokenId;
        private Integer bosTokenId = 1;
        private Integer eosTokenId = 2;
        private int pretrainingTp = 1;
        private boolean tieWordEmbeddings = true;
        private double ropeTheta = 10000.0;
        private boolean useGate;
        private boolean shareQk;
        private LayerType layerType = LayerType.LINEAR;
        private double tttBaseLr = 1.0;
        private int miniBatchSize = 16;
        private boolean preConv;
        private int convKernel = 4;
        private int scanCheckpointGroupSize;
        private List<Integer> innerHiddenMultiples;

        Builder() {}

        /**
         * Sets the four size fields of an official preset ({@code TTT_STANDARD_CONFIGS}).
         *
         * @param name one of {@link TttConfig#PRESETS}
         * @return this builder
         */
        public Builder preset(String name) {
            switch (name) {
                case "125m":
                    return sizes(768, 2048, 12, 12);
                case "350m":
                    return sizes(1024, 2736, 24, 16);
                case "760m":
                    return sizes(1536, 4096, 24, 16);
                case "1b":
                    return sizes(2048, 5504, 24, 32);
                default:
                    throw new IllegalArgumentException(
                            "Unknown preset '" + name + "': expected one of " + PRESETS);
            }
        }

        private Builder sizes(int hidden, int intermediate, int layers, int heads) {
            hiddenSize = hidden;
            intermediateSize = intermediate;
            numHiddenLayers = layers;
            numAttentionHeads = heads;
            return this;
        }

        /**
         * Sets the paper's Mamba-backbone flags: {@code pre_conv}, {@code share_qk} and {@code
         * use_gate} all true (paper Fig. 13; spec §2, §6.2).
         *
         * @return this builder
         */
        public Builder mambaBackbone() {
            preConv = true;
            shareQk = true;
            useGate = true;
            return this;
        }

        /**
         * Sets the parts of the Mamba backbone that a layer type has: all of {@link
         * #mambaBackbone()} for the TTT layers; for linear attention only {@code pre_conv} (the
         * part that lives in the block, not in the layer), the rest as the Transformer backbone;
         * nothing for attention, whose layer has no convolutions or gate.
         *
         * @param type the layer type
         * @return this builder
         */
        public Builder mambaBackbone(LayerType type) {
            if (type.isTtt()) {
                return mambaBackbone();
            }
            if (type == LayerType.LINEAR_ATTENTION) {
                return transformerBackbone().setPreConv(true);
            }
            return this;
        }

        /**
         * Sets the Transformer-backbone flags (the official defaults): no pre-conv, separate Q/K
         * projections, no gate.
         *
         * @return this builder
         */
        public Builder transformerBackbone() {
            preConv = false;
            shareQk = false;
            useGate = false;
            return this;
        }

        /**
         * Sets {@code vocab_size}.
         *
         * @param v the vocabulary size V
         * @return this builder
         */
        public Builder setVocabSize(int v) {
            vocabSize = v;
            return this;
        }

        /**
         * Sets {@code hidden_size}.
         *
         * @param v the model width C
         * @return this builder
         */
        public Builder setHiddenSize(int v) {
            hiddenSize = v;
            return this;
        }

        /**
         * Sets {@code intermediate_size}.
         *
         * @param v the SwiGLU width I
         * @return this builder
         */
        public Builder setIntermediateSize(int v) {
            intermediateSize = v;
            return this;
        }

        /**
         * Sets {@code num_hidden_layers}.
         *
         * @param v the number of residual blocks
         * @return this builder
         */
        public Builder setNumHiddenLayers(int v) {
            numHiddenLayers = v;
            return this;
        }

        /**
         * Sets {@code num_attention_heads}.
         *
         * @param v the number of heads H (must divide C)
         * @return this builder
         */
        public Builder setNumAttentionHeads(int v) {
            numAttentionHeads = v;
            return this;
        }

        /**
         * Sets {@code hidden_act} (only {@code "silu"} is supported, as in the official code).
         *
         * @param v the activation
         * @return this builder
         */
        public Builder setHiddenAct(String v) {
            hiddenAct = v;
            return this;
        }

        /**
         * Sets {@code max_position_embeddings} (unused by TTT layers; kept for round trips).
         *
         * @param v the value
         * @return this builder
         */
        public Builder setMaxPositionEmbeddings(int v) {
            maxPositionEmbeddings = v;
            return this;
        }

        /**
         * Sets {@code initializer_range}.
         *
         * @param v the standard deviation of the normal initialisation
         * @return this builder
         */
        public Builder setInitializerRange(double v) {
            initializerRange = v;
            return this;
        }

        /**
         * Sets {@code rms_norm_eps}.
         *
         * @param v epsilon of the RMSNorms
         * @return this builder
         */
        public Builder setRmsNormEps(double v) {
            rmsNormEps = v;
            return this;
        }

        /**
         * Sets {@code use_cache} (kept for round trips).
         *
         * @param v the flag
         * @return this builder
         */
        public Builder setUseCache(boolean v) {
            useCache = v;
            return this;
        }

        /**
         * Sets {@code pad_token_id}.
         *
         * @param v the id, or null
         * @return this builder
         */
        public Builder setPadTokenId(Integer v) {
            padTokenId = v;
            return this;
        }

        /**
         * Sets {@code bos_token_id}.
         *
         * @param v the id, or null
         * @return this builder
         */
        public Builder setBosTokenId(Integer v) {
            bosTokenId = v;
            return this;
        }

        /**
         * Sets {@code eos_token_id}.
         *
         * @param v the id, or null
         * @return this builder
         */
        public Builder setEosTokenId(Integer v) {
            eosTokenId = v;
            return this;
        }

        /**
         * Sets {@code pretraining_tp}.
         *
         * @param v the value (at least 1)
         * @return this builder
         */
        public Builder setPretrainingTp(int v) {
            pretrainingTp = v;
            return this;
        }

        /**
         * Sets {@code tie_word_embeddings}.
         *
         * @param v true to share the embedding matrix with the LM head
         * @return this builder
         */
        public Builder setTieWordEmbeddings(boolean v) {
            tieWordEmbeddings = v;
            return this;
        }

        /**
         * Sets {@code rope_theta}.
         *
         * @param v the RoPE base θ
         * @return this builder
         */
        public Builder setRopeTheta(double v) {
            ropeTheta = v;
            return this;
        }

        /**
         * Sets {@code use_gate}.
         *
         * @param v true to gate the TTT output with {@code gelu_tanh(X Wg)}
         * @return this builder
         */
        public Builder setUseGate(boolean v) {
            useGate = v;
            return this;
        }

        /**
         * Sets {@code share_qk}.
         *
         * @param v true for one Q/K projection followed by two causal convolutions
         * @return this builder
         */
        public Builder setShareQk(boolean v) {
            shareQk = v;
            return this;
        }

        /**
         * Sets {@code ttt_layer_type}.
         *
         * @param v the inner model
         * @return this builder
         */
        public Builder setLayerType(LayerType v) {
            layerType = Objects.requireNonNull(v, "layerType");
            return this;
        }

        /**
         * Sets {@code ttt_base_lr} (the paper uses 1.0 for TTT-Linear and 0.1 for TTT-MLP).
         *
         * @param v η_base
         * @return this builder
         */
        public Builder setTttBaseLr(double v) {
            tttBaseLr = v;
            return this;
        }

        /**
         * Sets {@code mini_batch_size}.
         *
         * @param v the TTT mini-batch size b (at least 1)
         * @return this builder
         */
        public Builder setMiniBatchSize(int v) {
            miniBatchSize = v;
            return this;
        }

        /**
         * Sets {@code pre_conv}.
         *
         * @param v true for a causal conv sub-block before each TTT sub-block
         * @return this builder
         */
        public Builder setPreConv(boolean v) {
            preConv = v;
            return this;
        }

        /**
         * Sets {@code conv_kernel}.
         *
         * @param v the kernel width of the causal convolutions (at least 1)
         * @return this builder
         */
        public Builder setConvKernel(int v) {
            convKernel = v;
            return this;
        }

        /**
         * Sets {@code ttt_inner_hidden_multiples}: the hidden layers of an MLP inner model, each
         * width a multiple of the head dim ({@link TttConfig#getInnerHiddenMultiples}).
         *
         * @param v e.g. {@code [4, 4]}; {@code null} for the layer type's default
         * @return this builder
         */
        public Builder setInnerHiddenMultiples(List<Integer> v) {
            innerHiddenMultiples = v == null ? null : List.copyOf(v);
            return this;
        }

        /**
         * Sets {@code scan_checkpoint_group_size} (kept for round trips).
         *
         * @param v the value (at least 0)
         * @return this builder
         */
        public Builder setScanCheckpointGroupSize(int v) {
            scanCheckpointGroupSize = v;
            return this;
        }

        /**
         * Validates the values and builds the config.
         *
         * @return the config
         * @throws IllegalArgumentException naming the first invalid value and what was expected
         */
        public TttConfig build() {
            innerHiddenMultiples = validInnerHiddenMultiples();
            positive("vocab_size", vocabSize);
            positive("hidden_size", hiddenSize);
            positive("intermediate_size", intermediateSize);
            positive("num_hidden_layers", numHiddenLayers);
            positive("num_attention_heads", numAttentionHeads);
            positive("max_position_embeddings", maxPositionEmbeddings);
            positive("pretraining_tp", pretrainingTp);
            positive("mini_batch_size", miniBatchSize);
            positive("conv_kernel", convKernel);
            if (hiddenSize % numAttentionHeads != 0) {
                throw new IllegalArgumentException(
                        "hidden_size ("
                                + hiddenSize
                                + ") must be divisible by num_attention_heads ("
                                + numAttentionHeads
                                + ")");
            }
            if ((hiddenSize / numAttentionHeads) % 2 != 0) {
                throw new IllegalArgumentException(
                        "head_dim = hidden_size / num_attention_heads = "
                                + hiddenSize / numAttentionHeads
                                + " must be even: rotary embeddings rotate pairs of channels");
            }
            if (!"silu".equals(hiddenAct)) {
                throw new IllegalArgumentException(
                        "hidden_act must be 'silu' (the official SwiGLU), got '" + hiddenAct + "'");
            }
            finitePositive("rope_theta", ropeTheta);
            finitePositive("rms_norm_eps", rmsNormEps);
            if (!(initializerRange >= 0) || Double.isInfinite(initializerRange)) {
                throw new IllegalArgumentException(
                        "initializer_range must be finite and >= 0, got " + initializerRange);
            }
            if (!(tttBaseLr >= 0) || Double.isInfinite(tttBaseLr)) {
                throw new IllegalArgumentException(
                        "ttt_base_lr must be finite and >= 0, got " + tttBaseLr);
            }
            if (scanCheckpointGroupSize < 0) {
                throw new IllegalArgumentException(
                        "scan_checkpoint_group_size must be >= 0, got " + scanCheckpointGroupSize);
            }
            if (padTokenId != null && (padTokenId < 0 || padTokenId >= vocabSize)) {
                throw new IllegalArgumentException(
                        "pad_token_id must be in [0, vocab_size="
                                + vocabSize
                                + "), got "
                                + padTokenId);
            }
            return new TttConfig(this);
        }

        /**
         * Checks {@code ttt_inner_hidden_multiples} against the layer type; returns what the config
         * keeps: {@code null} for the type's default, so that an explicit {@code [4]} for TTT-MLP
         * equals an absent key.
         */
        private List<Integer> validInnerHiddenMultiples() {
            if (innerHiddenMultiples == null) {
                return null;
            }
            String key = "ttt_inner_hidden_multiples";
            if (layerType != LayerType.MLP) {
                if (innerHiddenMultiples.isEmpty()) {
                    return null;
                }
                throw new IllegalArgumentException(
                        key
                                + " sets the hidden layers of an MLP inner model; ttt_layer_type '"
                                + layerType.officialName()
                                + "' has none, got "
                                + innerHiddenMultiples
                                + " (use ttt_layer_type 'mlp')");
            }
            if (innerHiddenMultiples.isEmpty()) {
                throw new IllegalArgumentException(
                        key
                                + " must list at least one hidden layer for ttt_layer_type 'mlp'"
                                + " (a linear inner model is ttt_layer_type 'linear'), got []");
            }
            for (int multiple : innerHiddenMultiples) {
                positive(key + " entries", multiple);
            }
            return innerHiddenMultiples.equals(DEFAULT_MLP_HIDDEN) ? null : innerHiddenMultiples;
        }

        private static void positive(String key, int value) {
            if (value < 1) {
                throw new IllegalArgumentException(key + " must be >= 1, got " + value);
            }
        }

        private static void finitePositive(String key, double value) {
            if (!(value > 0) || Double.isInfinite(value)) {
                throw new IllegalArgumentException(key + " must be finite and > 0, got " + value);
            }
        }
    }
}
