package ai.djl.ttt.baselines;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.nn.LayerState;
import ai.djl.ttt.nn.inner.Rope;

/**
 * What the two baselines ({@link CausalSelfAttention}, {@link LinearAttention}) share: their Q, K,
 * V, O projections and the checks of their input.
 */
final class Projections {

    private Projections() {}

    /** A {@code C → C} projection without bias, drawn from N(0, initializer_range). */
    static Linear create(TttConfig config) {
        Linear linear = Linear.builder().setUnits(config.getHiddenSize()).optBias(false).build();
        linear.setInitializer(
                new NormalInitializer((float) config.getInitializerRange()), Parameter.Type.WEIGHT);
        return linear;
    }

    /**
     * Projects {@code (B, T, C)}, splits the heads, rotates them by RoPE if tables are given, and
     * puts the heads first.
     *
     * @param rotary the tables of {@code Rope.tables}, or {@code null} for no rotation
     * @return {@code (B, H, T, f)}
     */
    static NDArray project(
            ParameterStore ps,
            Linear projection,
            NDList in,
            boolean training,
            int heads,
            NDArray[] rotary) {
        NDArray y = projection.forward(ps, in, training).head();
        Shape s = y.getShape();
        y = y.reshape(s.get(0), s.get(1), heads, s.get(2) / heads);
        return swapHeadsAndTime(rotary == null ? y : Rope.rotate(y, rotary));
    }

    /** {@code (B, T, H, f) → (B, H, T, f)}, and back. */
    static NDArray swapHeadsAndTime(NDArray x) {
        return x.transpose(0, 2, 1, 3);
    }

    /**
     * Checks a chunk against the layer's width and the state's batch size.
     *
     * @throws IllegalArgumentException naming what was expected and what came
     */
    static void check(String layer, NDArray x, int width, LayerState state) {
        Shape s = x.getShape();
        if (s.dimension() != 3 || s.get(2) != width || s.get(1) < 1) {
            throw new IllegalArgumentException(
                    layer + " expects (B, T, C) with T >= 1 and C = " + width + ", got " + s);
        }
        if (state != null) {
            LayerState.checkBatchSize(state.getBatchSize(), s);
        }
    }
}
