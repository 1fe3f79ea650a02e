package ai.djl.ttt.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Activation;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.util.PairList;

/**
 * The feed-forward sub-block of Llama-style models and of the official TTT blocks (reference.md
 * §2): {@code down(silu(gate(x)) ⊙ up(x))}, all projections without bias, {@code C → I → C}.
 *
 * <p>Children {@code gate_proj (I, C)}, {@code up_proj (I, C)}, {@code down_proj (C, I)}, each
 * initialised N(0, initializer_range).
 */
public final class SwiGluMlp extends AbstractBlock {

    private static final byte VERSION = 1;

    private final Linear gate;
    private final Linear up;
    private final Linear down;

    /**
     * Creates the block.
     *
     * @param width C
     * @param intermediate I
     * @param initializerRange the standard deviation of the weights' initialisation
     */
    public SwiGluMlp(int width, int intermediate, double initializerRange) {
        super(VERSION);
        gate = addChildBlock("gate_proj", linear(intermediate, initializerRange));
        up = addChildBlock("up_proj", linear(intermediate, initializerRange));
        down = addChildBlock("down_proj", linear(width, initializerRange));
    }

    private static Linear linear(int units, double initializerRange) {
        Linear linear = Linear.builder().setUnits(units).optBias(false).build();
        linear.setInitializer(
                new NormalInitializer((float) initializerRange), Parameter.Type.WEIGHT);
        return linear;
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDList x = new NDList(inputs.singletonOrThrow());
        // silu(g) = g·σ(g), written out: Activation.swish multiplies by β through mul(Number)
        NDArray g = gate.forward(ps, x, training).head();
        NDArray gated = g.mul(Activation.sigmoid(g));
        NDArray hidden = gated.mul(up.forward(ps, x, training).head());
        return down.forward(ps, new NDList(hidden), training);
    }

    /** {@inheritDoc} */
    @Override
    protected void initializeChildBlocks(
            NDManager manager, DataType dataType, Shape... inputShapes) {
        gate.initialize(manager, dataType, inputShapes[0]);
        up.initialize(manager, dataType, inputShapes[0]);
        Shape hidden = gate.getOutputShapes(new Shape[] {inputShapes[0]})[0];
        down.initialize(manager, dataType, hidden);
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }
}
