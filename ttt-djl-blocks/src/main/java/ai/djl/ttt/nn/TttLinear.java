package ai.djl.ttt.nn;

import ai.djl.ttt.config.LayerType;

/**
 * TTT-Linear: a {@link TttLayer} whose hidden state is a linear map per head, {@code f(x) = x +
 * LN_h(x W1 + b1)} with {@code W1 (H, f, f)} and {@code b1 (H, 1, f)} (reference.md §1.4).
 *
 * <pre>{@code
 * TttConfig config = TttConfig.builder().setHiddenSize(64).setNumAttentionHeads(4).build();
 * TttLinear layer = TttLinear.builder().setConfig(config).build();
 * layer.initialize(manager, DataType.FLOAT32, new Shape(2, 100, 64));
 * NDArray y = layer.forward(new ParameterStore(manager, false), new NDList(x), false).head();
 * }</pre>
 */
public final class TttLinear extends TttLayer {

    private TttLinear(Builder<TttLinear> builder) {
        super(builder, LayerType.LINEAR, innerModel(builder.config));
    }

    /**
     * Creates a builder.
     *
     * @return a new builder; {@code build()} fails unless the config's layer type is TTT-Linear
     */
    public static Builder<TttLinear> builder() {
        return new Builder<>(TttLinear::new);
    }
}
