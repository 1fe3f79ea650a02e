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
import ai.djl.ttt.runtime.HalfProducts;
import ai.djl.ttt.runtime.Precision;
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

    /** {@code [gate; up]} {@code (2I, C)} and {@code down} in float16, or {@code null}. */
    private volatile NDArray[] half;

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

    /**
     * Sets the precision of the inference products. {@link Precision#FLOAT16} holds float16 copies
     * of {@code [gate_proj; up_proj]} (one {@code (2I, C)} matrix: one product instead of two) and
     * {@code down_proj}, owned by the parameters' manager; a product that takes the float16 path
     * ({@link HalfProducts#applies}: a decode step's single row on a CPU) then runs the whole
     * feed-forward in float16 and casts its output back. {@link Precision#FLOAT32} releases the
     * copies. Set it again after the weights change; not while a forward pass runs.
     *
     * @param precision the precision
     * @throws IllegalStateException if the block is not initialized
     */
    public void setPrecision(Precision precision) {
        if (!isInitialized()) {
            throw new IllegalStateException("SwiGluMlp is not initialized: initialize it first");
        }
        NDArray[] old = half;
        half = null;
        if (old != null) {
            for (NDArray a : old) {
                a.close();
            }
        }
        if (precision == Precision.FLOAT16) {
            half =
                    new NDArray[] {
                        HalfProducts.copy(weight(gate), weight(up)), HalfProducts.copy(weight(down))
                    };
        }
    }

    /**
     * Returns the precision of the inference products.
     *
     * @return {@link Precision#FLOAT16} when the block holds float16 copies, else {@link
     *     Precision#FLOAT32}
     */
    public Precision getPrecision() {
        return half == null ? Precision.FLOAT32 : Precision.FLOAT16;
    }

    private static NDArray weight(Linear linear) {
        return linear.getParameters().get("weight").getArray();
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray[] h = half;
        if (h != null && HalfProducts.applies(inputs.singletonOrThrow(), training)) {
            return new NDList(halfForward(inputs.singletonOrThrow(), h));
        }
        NDList x = new NDList(inputs.singletonOrThrow());
        // silu(g) = g·σ(g), written out: Activation.swish multiplies by β through mul(Number)
        NDArray g = gate.forward(ps, x, training).head();
        NDArray gated = g.mul(Activation.sigmoid(g));
        NDArray hidden = gated.mul(up.forward(ps, x, training).head());
        return down.forward(ps, new NDList(hidden), training);
    }

    /**
     * The feed-forward in float16: one product for gate and up, the gating and the down product in
     * float16 (activations of a decode row; the residual stream it is added to stays float32).
     */
    private static NDArray halfForward(NDArray x, NDArray[] h) {
        NDArray gateUp = Linear.linear(HalfProducts.toHalf(x), h[0]).head();
        NDList parts = gateUp.split(2, gateUp.getShape().dimension() - 1);
        NDArray g = parts.get(0);
        NDArray hidden = g.mul(Activation.sigmoid(g)).mul(parts.get(1));
        return Linear.linear(hidden, h[1]).head().toType(x.getDataType(), false);
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
