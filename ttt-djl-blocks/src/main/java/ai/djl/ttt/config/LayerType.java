package ai.djl.ttt.config;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The sequence layer of each block: a TTT layer with its inner model (the small model whose weights
 * are the layer's hidden state), or the causal self-attention baseline.
 *
 * <p>The names are the values of the official {@code ttt_layer_type} config key; {@code
 * "attention"} is ttt-djl's own addition (the official code has no attention baseline), and so is
 * {@code "linear_attention"}, so that TTT and its baselines share one code path.
 */
public enum LayerType {
    /**
     * TTT-Linear: the hidden state is a linear map {@code f(x) = x W + b} per head (reference.md
     * §1.4).
     */
    LINEAR("linear", "TTT-Linear"),
    /**
     * TTT-MLP: the hidden state is a two-layer MLP with a tanh-GELU, width 4f (reference.md §1.6).
     */
    MLP("mlp", "TTT-MLP"),
    /**
     * The Llama-style causal self-attention baseline (RoPE on absolute positions, key/value cache),
     * the paper's Transformer comparison; not an official value.
     */
    ATTENTION("attention", "attention"),
    /**
     * Plain causal linear attention: TTT-Linear trained by batch gradient descent from {@code W₀ =
     * 0}, without inner LayerNorm or residual (the paper's Table 1 starting point); a baseline of
     * ttt-djl, not an official value.
     */
    LINEAR_ATTENTION("linear_attention", "linear attention");

    private final String officialName;
    private final String displayName;

    LayerType(String officialName, String displayName) {
        this.officialName = officialName;
        this.displayName = displayName;
    }

    /**
     * Returns the name to show in tables and plots.
     *
     * @return e.g. {@code "TTT-Linear"} or {@code "linear attention"}
     */
    public String displayName() {
        return displayName;
    }

    /**
     * Returns the value of the official {@code ttt_layer_type} key for this type.
     *
     * @return {@code "linear"}, {@code "mlp"}, {@code "attention"} or {@code "linear_attention"}
     */
    public String officialName() {
        return officialName;
    }

    /**
     * Returns whether this is a TTT layer (and not attention).
     *
     * @return true for TTT-Linear and TTT-MLP
     */
    public boolean isTtt() {
        return this == LINEAR || this == MLP;
    }

    /**
     * Returns the paper's inner base learning rate {@code ttt_base_lr} for this layer type
     * (reference.md §6.2, §8): 0.1 for TTT-MLP, 1.0 (the official default) for the others.
     *
     * @return the rate
     */
    public double paperBaseLr() {
        return this == MLP ? 0.1 : 1.0;
    }

    /**
     * Parses an official {@code ttt_layer_type} value.
     *
     * @param name {@code "linear"}, {@code "mlp"}, {@code "attention"} or {@code
     *     "linear_attention"} (case-insensitive)
     * @return the layer type
     * @throws IllegalArgumentException if the name is not a known layer type
     */
    public static LayerType fromOfficialName(String name) {
        for (LayerType type : values()) {
            if (type.officialName.equals(name.toLowerCase(Locale.ROOT))) {
                return type;
            }
        }
        throw new IllegalArgumentException(
                "Unknown ttt_layer_type '"
                        + ai.djl.ttt.runtime.BoundedText.of(name)
                        + "': expected one of "
                        + Arrays.stream(values())
                                .map(LayerType::officialName)
                                .collect(Collectors.joining(", ")));
    }
}
