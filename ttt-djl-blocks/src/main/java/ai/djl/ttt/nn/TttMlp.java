package ai.djl.ttt.nn;

import ai.djl.ttt.config.LayerType;
import ai.djl.ttt.config.TttConfig;

/**
 * TTT-MLP: a {@link TttLayer} whose hidden state is an MLP per head. The paper's is two layers with
 * hidden width {@code 4f}, {@code f(x) = x + LN_h(gelu_tanh(x W1 + b1) W2 + b2)}: {@code W1 (H, f,
 * 4f)}, {@code b1 (H, 1, 4f)}, {@code W2 (H, 4f, f)}, {@code b2 (H, 1, f)} (reference.md §1.6). The
 * config key {@code ttt_inner_hidden_multiples} ({@link TttConfig#getInnerHiddenMultiples}) sets
 * other hidden layers, e.g. {@code [4, 4]} for three dense layers {@code f → 4f → 4f → f} with
 * weights {@code W1, b1, W2, b2, W3, b3} (a ttt-djl extension; the official code has depth 2 only).
 *
 * <p>The paper trains it with {@code ttt_base_lr = 0.1} ({@link TttConfig#paper}); the official
 * default 1.0 is TTT-Linear's value.
 */
public final class TttMlp extends TttLayer {

    private TttMlp(Builder<TttMlp> builder) {
        super(builder, LayerType.MLP, innerModel(builder.config));
    }

    /**
     * Creates a builder.
     *
     * @return a new builder; {@code build()} fails unless the config's layer type is TTT-MLP
     */
    public static Builder<TttMlp> builder() {
        return new Builder<>(TttMlp::new);
    }
}
