package ai.djl.ttt.config;

import ai.djl.MalformedModelException;
import ai.djl.ttt.runtime.AtomicFiles;
import ai.djl.ttt.runtime.BoundedText;
import ai.djl.ttt.runtime.StrictJson;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * Every hyper-parameter of a TTT layer and of the language model around it, with the names, the
 * defaults and the presets of the official {@code TTTConfig} (ttt-lm-pytorch {@code ttt.py},
 * reference.md §6).
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

    /** The names of the official size presets ({@code TTT_STANDARD_CONFIGS}, reference.md §6.1). */
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

    /**
     * The largest {@code config.json} {@link #load} reads, 1 MiB (a real one is a few kilobytes); a
     * larger file is refused before it is read.
     */
    public static final long MAX_FILE_BYTES = 1L << 20;

    private static final Gson GSON =
            new GsonBuilder().setPrettyPrinting().serializeNulls().disableHtmlEscaping().create();

    /** Every key's value, in the key table's order; {@code null} where a key allows it. */
    private final Map<Key<?>, Object> values;

    private TttConfig(Builder b) {
        values = Collections.unmodifiableMap(new LinkedHashMap<>(b.values));
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
        b.values.putAll(values);
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
     * for TTT-Linear, 0.1 for TTT-MLP; reference.md §6.2, §8).
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
            root = StrictJson.parse(json);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("config is " + e.getMessage(), e);
        }
        if (!root.isJsonObject()) {
            throw new IllegalArgumentException(
                    "config must be a JSON object, got " + jsonKind(root));
        }
        return fromJson(root.getAsJsonObject());
    }

    /** "a JSON string of 5 characters", "a JSON array of 2 elements", ...: no content echoed. */
    private static String jsonKind(JsonElement e) {
        if (e.isJsonArray()) {
            return "a JSON array of " + e.getAsJsonArray().size() + " elements";
        }
        if (e.isJsonNull()) {
            return "null";
        }
        if (e.getAsJsonPrimitive().isString()) {
            return "a JSON string of " + e.getAsString().length() + " characters";
        }
        return e.getAsJsonPrimitive().isNumber() ? "a JSON number" : "a JSON boolean";
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
                                    + BoundedText.of(e.getValue()));
                }
                continue;
            }
            Key<?> k = Key.byName(key);
            if (k == null) {
                throw new IllegalArgumentException(
                        "Unknown config key '"
                                + BoundedText.of(key)
                                + "'; known keys: "
                                + Key.names());
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
        long size = Files.size(file);
        if (size > MAX_FILE_BYTES) {
            throw new IllegalArgumentException(
                    file
                            + " is "
                            + size
                            + " bytes; a config.json is at most "
                            + MAX_FILE_BYTES
                            + " bytes (a real one is a few kilobytes)");
        }
        String text = Files.readString(file, StandardCharsets.UTF_8);
        try {
            JsonElement root = StrictJson.parse(text);
            if (root.isJsonObject() && root.getAsJsonObject().has("ttt_config")) {
                JsonElement inner = root.getAsJsonObject().get("ttt_config");
                if (!inner.isJsonObject()) {
                    throw new IllegalArgumentException(
                            "ttt_config must be a JSON object, got " + jsonKind(inner));
                }
                return fromJson(inner.getAsJsonObject());
            }
            if (!root.isJsonObject()) {
                throw new IllegalArgumentException(
                        "config must be a JSON object, got " + jsonKind(root));
            }
            return fromJson(root.getAsJsonObject());
        } catch (IllegalArgumentException
                | IllegalStateException
                | ClassCastException
                | UnsupportedOperationException e) {
            String message = BoundedText.of(e.getMessage(), 1000);
            throw new IllegalArgumentException(
                    file
                            + ": "
                            + (message.startsWith("not valid JSON") ? "config is " : "")
                            + message,
                    e);
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
        AtomicFiles.writeAtomically(file, toJson() + "\n");
    }

    /**
     * Returns this config as official {@code config.json} text, keys in the official order.
     *
     * @return pretty-printed JSON
     */
    public String toJson() {
        JsonObject json = new JsonObject();
        for (Key<?> k : Key.ALL) {
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
        return get(Key.VOCAB_SIZE);
    }

    /**
     * Returns the model width ({@code hidden_size}).
     *
     * @return C
     */
    public int getHiddenSize() {
        return get(Key.HIDDEN_SIZE);
    }

    /**
     * Returns the width of the SwiGLU feed-forward block ({@code intermediate_size}).
     *
     * @return I
     */
    public int getIntermediateSize() {
        return get(Key.INTERMEDIATE_SIZE);
    }

    /**
     * Returns the number of residual blocks ({@code num_hidden_layers}).
     *
     * @return the number of layers
     */
    public int getNumHiddenLayers() {
        return get(Key.NUM_HIDDEN_LAYERS);
    }

    /**
     * Returns the number of TTT heads ({@code num_attention_heads}).
     *
     * @return H
     */
    public int getNumAttentionHeads() {
        return get(Key.NUM_ATTENTION_HEADS);
    }

    /**
     * Returns the width of one head, {@code hidden_size / num_attention_heads}.
     *
     * @return f
     */
    public int getHeadDim() {
        return getHiddenSize() / getNumAttentionHeads();
    }

    /**
     * Returns the activation of the feed-forward block ({@code hidden_act}; only {@code silu}).
     *
     * @return the activation name
     */
    public String getHiddenAct() {
        return get(Key.HIDDEN_ACT);
    }

    /**
     * Returns {@code max_position_embeddings}; kept for round trips, the official TTT layers do not
     * use it (RoPE positions restart every mini-batch).
     *
     * @return the value
     */
    public int getMaxPositionEmbeddings() {
        return get(Key.MAX_POSITION_EMBEDDINGS);
    }

    /**
     * Returns the standard deviation of the normal initialisation of projections and embeddings
     * ({@code initializer_range}).
     *
     * @return the standard deviation
     */
    public double getInitializerRange() {
        return get(Key.INITIALIZER_RANGE);
    }

    /**
     * Returns the epsilon of the model's RMSNorms ({@code rms_norm_eps}).
     *
     * @return epsilon
     */
    public double getRmsNormEps() {
        return get(Key.RMS_NORM_EPS);
    }

    /**
     * Returns the official {@code use_cache} flag (kept for round trips; generation here always
     * carries a recurrent state).
     *
     * @return the flag
     */
    public boolean isUseCache() {
        return get(Key.USE_CACHE);
    }

    /**
     * Returns the padding token id ({@code pad_token_id}), or {@code null}.
     *
     * @return the id or null
     */
    public Integer getPadTokenId() {
        return get(Key.PAD_TOKEN_ID);
    }

    /**
     * Returns the beginning-of-sequence token id ({@code bos_token_id}), or {@code null}.
     *
     * @return the id or null
     */
    public Integer getBosTokenId() {
        return get(Key.BOS_TOKEN_ID);
    }

    /**
     * Returns the end-of-sequence token id ({@code eos_token_id}), or {@code null}.
     *
     * @return the id or null
     */
    public Integer getEosTokenId() {
        return get(Key.EOS_TOKEN_ID);
    }

    /**
     * Returns {@code pretraining_tp}; values above 1 only slice the same computation.
     *
     * @return the value
     */
    public int getPretrainingTp() {
        return get(Key.PRETRAINING_TP);
    }

    /**
     * Returns whether the LM head shares the embedding matrix ({@code tie_word_embeddings}).
     *
     * @return true if tied
     */
    public boolean isTieWordEmbeddings() {
        return get(Key.TIE_WORD_EMBEDDINGS);
    }

    /**
     * Returns the RoPE base θ ({@code rope_theta}).
     *
     * @return θ
     */
    public double getRopeTheta() {
        return get(Key.ROPE_THETA);
    }

    /**
     * Returns whether the TTT output is gated by {@code gelu_tanh(X Wg)} ({@code use_gate}).
     *
     * @return true with the gate
     */
    public boolean isUseGate() {
        return get(Key.USE_GATE);
    }

    /**
     * Returns whether Q and K come from one projection followed by two causal depthwise
     * convolutions ({@code share_qk}).
     *
     * @return true for shared Q/K
     */
    public boolean isShareQk() {
        return get(Key.SHARE_QK);
    }

    /**
     * Returns the inner model ({@code ttt_layer_type}).
     *
     * @return the layer type
     */
    public LayerType getLayerType() {
        return get(Key.TTT_LAYER_TYPE);
    }

    /**
     * Returns the base inner learning rate η_base ({@code ttt_base_lr}).
     *
     * @return η_base
     */
    public double getTttBaseLr() {
        return get(Key.TTT_BASE_LR);
    }

    /**
     * Returns the TTT mini-batch size b ({@code mini_batch_size}).
     *
     * @return b
     */
    public int getMiniBatchSize() {
        return get(Key.MINI_BATCH_SIZE);
    }

    /**
     * Returns whether each block starts with a causal convolution sub-block ({@code pre_conv}).
     *
     * @return true with the pre-conv
     */
    public boolean isPreConv() {
        return get(Key.PRE_CONV);
    }

    /**
     * Returns the kernel width of the causal convolutions ({@code conv_kernel}).
     *
     * @return the kernel width
     */
    public int getConvKernel() {
        return get(Key.CONV_KERNEL);
    }

    /**
     * Returns {@code scan_checkpoint_group_size} (kept for round trips; in the official code it is
     * the number of checkpoint groups, not their size).
     *
     * @return the value
     */
    public int getScanCheckpointGroupSize() {
        return get(Key.SCAN_CHECKPOINT_GROUP_SIZE);
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
        List<Integer> set = get(Key.TTT_INNER_HIDDEN_MULTIPLES);
        if (set != null) {
            return set;
        }
        return getLayerType() == LayerType.MLP ? DEFAULT_MLP_HIDDEN : List.of();
    }

    private <T> T get(Key<T> key) {
        return key.type.cast(values.get(key));
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
        for (Key<?> k : Key.ALL) {
            JsonElement a = k.write(this);
            JsonElement b = k.write(other);
            if (!Objects.equals(a, b)) {
                out.add(k.officialName + ": " + a + " vs " + b);
            }
        }
        return out;
    }

    /**
     * The key table: every key of {@code config.json} with its type, its official default, and how
     * it reads from and writes to JSON, in the official order. A config and its builder hold one
     * value per key; getters and setters only name the key.
     *
     * @param <T> the value's type
     */
    private static final class Key<T> {

        /** Every key, in the order declared below: the official order, ttt-djl's own last. */
        private static final List<Key<?>> ALL_KEYS = new ArrayList<>();

        private static final Map<String, Key<?>> BY_NAME = new LinkedHashMap<>();

        static final Key<Integer> VOCAB_SIZE = intKey("vocab_size", 32000);
        static final Key<Integer> HIDDEN_SIZE = intKey("hidden_size", 2048);
        static final Key<Integer> INTERMEDIATE_SIZE = intKey("intermediate_size", 5504);
        static final Key<Integer> NUM_HIDDEN_LAYERS = intKey("num_hidden_layers", 24);
        static final Key<Integer> NUM_ATTENTION_HEADS = intKey("num_attention_heads", 32);
        static final Key<String> HIDDEN_ACT =
                new Key<>("hidden_act", String.class, "silu", Key::asString, JsonPrimitive::new);
        static final Key<Integer> MAX_POSITION_EMBEDDINGS = intKey("max_position_embeddings", 2048);
        static final Key<Double> INITIALIZER_RANGE = doubleKey("initializer_range", 0.02);
        static final Key<Double> RMS_NORM_EPS = doubleKey("rms_norm_eps", 1e-6);
        static final Key<Boolean> USE_CACHE = booleanKey("use_cache", false);
        static final Key<Integer> PAD_TOKEN_ID = nullableIntKey("pad_token_id", null);
        static final Key<Integer> BOS_TOKEN_ID = nullableIntKey("bos_token_id", 1);
        static final Key<Integer> EOS_TOKEN_ID = nullableIntKey("eos_token_id", 2);
        static final Key<Integer> PRETRAINING_TP = intKey("pretraining_tp", 1);
        static final Key<Boolean> TIE_WORD_EMBEDDINGS = booleanKey("tie_word_embeddings", true);
        static final Key<Double> ROPE_THETA = doubleKey("rope_theta", 10000.0);
        static final Key<Boolean> USE_GATE = booleanKey("use_gate", false);
        static final Key<Boolean> SHARE_QK = booleanKey("share_qk", false);
        static final Key<LayerType> TTT_LAYER_TYPE =
                new Key<>(
                        "ttt_layer_type",
                        LayerType.class,
                        LayerType.LINEAR,
                        (name, v) -> LayerType.fromOfficialName(asString(name, v)),
                        t -> new JsonPrimitive(t.officialName()));
        static final Key<Double> TTT_BASE_LR = doubleKey("ttt_base_lr", 1.0);
        static final Key<Integer> MINI_BATCH_SIZE = intKey("mini_batch_size", 16);
        static final Key<Boolean> PRE_CONV = booleanKey("pre_conv", false);
        static final Key<Integer> CONV_KERNEL = intKey("conv_kernel", 4);
        static final Key<Integer> SCAN_CHECKPOINT_GROUP_SIZE =
                intKey("scan_checkpoint_group_size", 0);

        /** A ttt-djl key: absent (null) means the layer type's default, and is not written. */
        @SuppressWarnings("unchecked")
        static final Key<List<Integer>> TTT_INNER_HIDDEN_MULTIPLES =
                new Key<>(
                        "ttt_inner_hidden_multiples",
                        (Class<List<Integer>>) (Class<?>) List.class,
                        null,
                        Key::asIntList,
                        list -> {
                            JsonArray a = new JsonArray();
                            list.forEach(a::add);
                            return a;
                        });

        static final List<Key<?>> ALL = Collections.unmodifiableList(ALL_KEYS);

        final String officialName;
        final Class<T> type;
        final T defaultValue;
        private final BiFunction<String, JsonElement, T> reader;
        private final Function<T, JsonElement> writer;

        private Key(
                String officialName,
                Class<T> type,
                T defaultValue,
                BiFunction<String, JsonElement, T> reader,
                Function<T, JsonElement> writer) {
            this.officialName = officialName;
            this.type = type;
            this.defaultValue = defaultValue;
            this.reader = reader;
            this.writer = writer;
            ALL_KEYS.add(this);
            BY_NAME.put(officialName, this);
        }

        /** Reads the key's JSON value into a builder. */
        void read(Builder b, JsonElement v) {
            b.set(this, reader.apply(officialName, v));
        }

        /**
         * The key's JSON value in a config: JSON null for an official key without a value, and
         * {@code null} (not written) for ttt-djl's own key left at its default.
         */
        JsonElement write(TttConfig c) {
            T value = c.get(this);
            if (value == null) {
                return this == TTT_INNER_HIDDEN_MULTIPLES ? null : JsonNull.INSTANCE;
            }
            return writer.apply(value);
        }

        static Key<?> byName(String name) {
            return BY_NAME.get(name);
        }

        static Set<String> names() {
            return BY_NAME.keySet();
        }

        private static Key<Integer> intKey(String name, int defaultValue) {
            return new Key<>(name, Integer.class, defaultValue, Key::asInt, JsonPrimitive::new);
        }

        private static Key<Integer> nullableIntKey(String name, Integer defaultValue) {
            return new Key<>(
                    name,
                    Integer.class,
                    defaultValue,
                    (n, v) -> v.isJsonNull() ? null : asInt(n, v),
                    JsonPrimitive::new);
        }

        private static Key<Double> doubleKey(String name, double defaultValue) {
            return new Key<>(name, Double.class, defaultValue, Key::asDouble, JsonPrimitive::new);
        }

        private static Key<Boolean> booleanKey(String name, boolean defaultValue) {
            return new Key<>(
                    name,
                    Boolean.class,
                    defaultValue,
                    (n, v) -> {
                        if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isBoolean()) {
                            throw new IllegalArgumentException(
                                    n + " must be true or false, got " + BoundedText.of(v));
                        }
                        return v.getAsBoolean();
                    },
                    JsonPrimitive::new);
        }

        private static int asInt(String name, JsonElement v) {
            double d = asDouble(name, v);
            if (d != Math.rint(d) || Math.abs(d) > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(
                        name + " must be an integer, got " + BoundedText.of(v));
            }
            return (int) d;
        }

        private static double asDouble(String name, JsonElement v) {
            if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isNumber()) {
                throw new IllegalArgumentException(
                        name + " must be a number, got " + BoundedText.of(v));
            }
            return v.getAsDouble();
        }

        private static List<Integer> asIntList(String name, JsonElement v) {
            if (!v.isJsonArray()) {
                throw new IllegalArgumentException(
                        name + " must be a list of integers, got " + BoundedText.of(v));
            }
            List<Integer> list = new ArrayList<>();
            for (JsonElement e : v.getAsJsonArray()) {
                list.add(asInt(name, e));
            }
            return List.copyOf(list);
        }

        private static String asString(String name, JsonElement v) {
            if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isString()) {
                throw new IllegalArgumentException(
                        name + " must be a string, got " + BoundedText.of(v));
            }
            return v.getAsString();
        }
    }

    /**
     * Builds a {@link TttConfig}. Setters are named after the official keys; {@link #build()}
     * validates the combination.
     */
    public static final class Builder {

        private final Map<Key<?>, Object> values = new LinkedHashMap<>();

        Builder() {
            for (Key<?> key : Key.ALL) {
                values.put(key, key.defaultValue);
            }
        }

        private <T> Builder set(Key<T> key, T value) {
            values.put(key, value);
            return this;
        }

        private <T> T get(Key<T> key) {
            return key.type.cast(values.get(key));
        }

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
            return setHiddenSize(hidden)
                    .setIntermediateSize(intermediate)
                    .setNumHiddenLayers(layers)
                    .setNumAttentionHeads(heads);
        }

        /**
         * Sets the paper's Mamba-backbone flags: {@code pre_conv}, {@code share_qk} and {@code
         * use_gate} all true (paper Fig. 13; reference.md §2, §6.2).
         *
         * @return this builder
         */
        public Builder mambaBackbone() {
            return setPreConv(true).setShareQk(true).setUseGate(true);
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
            return setPreConv(false).setShareQk(false).setUseGate(false);
        }

        /**
         * Sets {@code vocab_size}.
         *
         * @param v the vocabulary size V
         * @return this builder
         */
        public Builder setVocabSize(int v) {
            return set(Key.VOCAB_SIZE, v);
        }

        /**
         * Sets {@code hidden_size}.
         *
         * @param v the model width C
         * @return this builder
         */
        public Builder setHiddenSize(int v) {
            return set(Key.HIDDEN_SIZE, v);
        }

        /**
         * Sets {@code intermediate_size}.
         *
         * @param v the SwiGLU width I
         * @return this builder
         */
        public Builder setIntermediateSize(int v) {
            return set(Key.INTERMEDIATE_SIZE, v);
        }

        /**
         * Sets {@code num_hidden_layers}.
         *
         * @param v the number of residual blocks
         * @return this builder
         */
        public Builder setNumHiddenLayers(int v) {
            return set(Key.NUM_HIDDEN_LAYERS, v);
        }

        /**
         * Sets {@code num_attention_heads}.
         *
         * @param v the number of heads H (must divide C)
         * @return this builder
         */
        public Builder setNumAttentionHeads(int v) {
            return set(Key.NUM_ATTENTION_HEADS, v);
        }

        /**
         * Sets {@code hidden_act} (only {@code "silu"} is supported, as in the official code).
         *
         * @param v the activation
         * @return this builder
         */
        public Builder setHiddenAct(String v) {
            return set(Key.HIDDEN_ACT, v);
        }

        /**
         * Sets {@code max_position_embeddings} (unused by TTT layers; kept for round trips).
         *
         * @param v the value
         * @return this builder
         */
        public Builder setMaxPositionEmbeddings(int v) {
            return set(Key.MAX_POSITION_EMBEDDINGS, v);
        }

        /**
         * Sets {@code initializer_range}.
         *
         * @param v the standard deviation of the normal initialisation
         * @return this builder
         */
        public Builder setInitializerRange(double v) {
            return set(Key.INITIALIZER_RANGE, v);
        }

        /**
         * Sets {@code rms_norm_eps}.
         *
         * @param v epsilon of the RMSNorms
         * @return this builder
         */
        public Builder setRmsNormEps(double v) {
            return set(Key.RMS_NORM_EPS, v);
        }

        /**
         * Sets {@code use_cache} (kept for round trips).
         *
         * @param v the flag
         * @return this builder
         */
        public Builder setUseCache(boolean v) {
            return set(Key.USE_CACHE, v);
        }

        /**
         * Sets {@code pad_token_id}.
         *
         * @param v the id, or null
         * @return this builder
         */
        public Builder setPadTokenId(Integer v) {
            return set(Key.PAD_TOKEN_ID, v);
        }

        /**
         * Sets {@code bos_token_id}.
         *
         * @param v the id, or null
         * @return this builder
         */
        public Builder setBosTokenId(Integer v) {
            return set(Key.BOS_TOKEN_ID, v);
        }

        /**
         * Sets {@code eos_token_id}.
         *
         * @param v the id, or null
         * @return this builder
         */
        public Builder setEosTokenId(Integer v) {
            return set(Key.EOS_TOKEN_ID, v);
        }

        /**
         * Sets {@code pretraining_tp}.
         *
         * @param v the value (at least 1)
         * @return this builder
         */
        public Builder setPretrainingTp(int v) {
            return set(Key.PRETRAINING_TP, v);
        }

        /**
         * Sets {@code tie_word_embeddings}.
         *
         * @param v true to share the embedding matrix with the LM head
         * @return this builder
         */
        public Builder setTieWordEmbeddings(boolean v) {
            return set(Key.TIE_WORD_EMBEDDINGS, v);
        }

        /**
         * Sets {@code rope_theta}.
         *
         * @param v the RoPE base θ
         * @return this builder
         */
        public Builder setRopeTheta(double v) {
            return set(Key.ROPE_THETA, v);
        }

        /**
         * Sets {@code use_gate}.
         *
         * @param v true to gate the TTT output with {@code gelu_tanh(X Wg)}
         * @return this builder
         */
        public Builder setUseGate(boolean v) {
            return set(Key.USE_GATE, v);
        }

        /**
         * Sets {@code share_qk}.
         *
         * @param v true for one Q/K projection followed by two causal convolutions
         * @return this builder
         */
        public Builder setShareQk(boolean v) {
            return set(Key.SHARE_QK, v);
        }

        /**
         * Sets {@code ttt_layer_type}.
         *
         * @param v the inner model
         * @return this builder
         */
        public Builder setLayerType(LayerType v) {
            return set(Key.TTT_LAYER_TYPE, Objects.requireNonNull(v, "layerType"));
        }

        /**
         * Sets {@code ttt_base_lr} (the paper uses 1.0 for TTT-Linear and 0.1 for TTT-MLP).
         *
         * @param v η_base
         * @return this builder
         */
        public Builder setTttBaseLr(double v) {
            return set(Key.TTT_BASE_LR, v);
        }

        /**
         * Sets {@code mini_batch_size}.
         *
         * @param v the TTT mini-batch size b (at least 1)
         * @return this builder
         */
        public Builder setMiniBatchSize(int v) {
            return set(Key.MINI_BATCH_SIZE, v);
        }

        /**
         * Sets {@code pre_conv}.
         *
         * @param v true for a causal conv sub-block before each TTT sub-block
         * @return this builder
         */
        public Builder setPreConv(boolean v) {
            return set(Key.PRE_CONV, v);
        }

        /**
         * Sets {@code conv_kernel}.
         *
         * @param v the kernel width of the causal convolutions (at least 1)
         * @return this builder
         */
        public Builder setConvKernel(int v) {
            return set(Key.CONV_KERNEL, v);
        }

        /**
         * Sets {@code ttt_inner_hidden_multiples}: the hidden layers of an MLP inner model, each
         * width a multiple of the head dim ({@link TttConfig#getInnerHiddenMultiples}).
         *
         * @param v e.g. {@code [4, 4]}; {@code null} for the layer type's default
         * @return this builder
         */
        public Builder setInnerHiddenMultiples(List<Integer> v) {
            return set(Key.TTT_INNER_HIDDEN_MULTIPLES, v == null ? null : List.copyOf(v));
        }

        /**
         * Sets {@code scan_checkpoint_group_size} (kept for round trips).
         *
         * @param v the value (at least 0)
         * @return this builder
         */
        public Builder setScanCheckpointGroupSize(int v) {
            return set(Key.SCAN_CHECKPOINT_GROUP_SIZE, v);
        }

        /**
         * Validates the values and builds the config.
         *
         * @return the config
         * @throws IllegalArgumentException naming the first invalid value and what was expected
         */
        public TttConfig build() {
            set(Key.TTT_INNER_HIDDEN_MULTIPLES, validInnerHiddenMultiples());
            int vocabSize = get(Key.VOCAB_SIZE);
            int hiddenSize = get(Key.HIDDEN_SIZE);
            int numAttentionHeads = get(Key.NUM_ATTENTION_HEADS);
            Integer padTokenId = get(Key.PAD_TOKEN_ID);
            double initializerRange = get(Key.INITIALIZER_RANGE);
            double tttBaseLr = get(Key.TTT_BASE_LR);
            int scanCheckpointGroupSize = get(Key.SCAN_CHECKPOINT_GROUP_SIZE);
            String hiddenAct = get(Key.HIDDEN_ACT);
            positive("vocab_size", get(Key.VOCAB_SIZE));
            positive("hidden_size", get(Key.HIDDEN_SIZE));
            positive("intermediate_size", get(Key.INTERMEDIATE_SIZE));
            positive("num_hidden_layers", get(Key.NUM_HIDDEN_LAYERS));
            positive("num_attention_heads", get(Key.NUM_ATTENTION_HEADS));
            positive("max_position_embeddings", get(Key.MAX_POSITION_EMBEDDINGS));
            positive("pretraining_tp", get(Key.PRETRAINING_TP));
            positive("mini_batch_size", get(Key.MINI_BATCH_SIZE));
            positive("conv_kernel", get(Key.CONV_KERNEL));
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
            finitePositive("rope_theta", get(Key.ROPE_THETA));
            finitePositive("rms_norm_eps", get(Key.RMS_NORM_EPS));
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
            List<Integer> innerHiddenMultiples = get(Key.TTT_INNER_HIDDEN_MULTIPLES);
            LayerType layerType = get(Key.TTT_LAYER_TYPE);
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
                                + BoundedText.of(innerHiddenMultiples)
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
