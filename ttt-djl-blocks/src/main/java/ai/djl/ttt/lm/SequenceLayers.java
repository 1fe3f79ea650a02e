package ai.djl.ttt.lm;

import ai.djl.ttt.baselines.CausalSelfAttention;
import ai.djl.ttt.baselines.LinearAttention;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.nn.LayerState;
import ai.djl.ttt.nn.SequenceLayer;
import ai.djl.ttt.nn.TttLayer;

/**
 * Creates the sequence layer a config names: the one place that turns {@code ttt_layer_type} into a
 * block. Everything else (blocks, benchmarks, FLOP counts, weight loading, the optimizer's decay
 * mask, the CLI) asks the layer it gets, or its inner model, instead of testing the type.
 */
public final class SequenceLayers {

    private SequenceLayers() {}

    /**
     * Builds the sequence layer of a config.
     *
     * @param config the configuration
     * @param checkFinite whether a TTT layer checks each input for NaN and infinities (a model that
     *     has checked its token ids passes false: hidden states need no scan per layer)
     * @return a {@link TttLayer}, a {@link CausalSelfAttention} or a {@link LinearAttention}
     */
    public static SequenceLayer<? extends LayerState> fromConfig(
            TttConfig config, boolean checkFinite) {
        return switch (config.getLayerType()) {
            case LINEAR, MLP -> TttLayer.fromConfig(config, checkFinite);
            case ATTENTION -> new CausalSelfAttention(config);
            case LINEAR_ATTENTION -> new LinearAttention(config);
        };
    }
}
