package ai.djl.ttt;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The inner model of a TTT layer: the small model whose weights are the layer's hidden state.
 *
 * <p>The names are the values of the official {@code ttt_layer_type} config key.
 */
public enum LayerType {
    /** TTT-Linear: the hidden state is a linear map {@code f(x) = x W + b} per head (spec §1.4). */
    LINEAR("linear"),
    /** TTT-MLP: the hidden state is a two-layer MLP with a tanh-GELU, width 4f (spec §1.6). */
    MLP("mlp");

    private final String officialName;

    LayerType(String officialName) {
        this.officialName = officialName;
    }

    /**
     * Returns the value of the official {@code ttt_layer_type} key for this type.
     *
     * @return {@code "linear"} or {@code "mlp"}
     */
    public String officialName() {
        return officialName;
    }

    /**
     * Parses an official {@code ttt_layer_type} value.
     *
     * @param name {@code "linear"} or {@code "mlp"} (case-insensitive)
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
                        + name
                        + "': expected one of "
                        + Arrays.stream(values())
                                .map(LayerType::officialName)
                                .collect(Collectors.joining(", ")));
    }
}
