package ai.djl.ttt.lm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.convolutional.Conv1d;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.UniformInitializer;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.nn.CausalConv;
import ai.djl.ttt.nn.RmsNorm;
import ai.djl.util.PairList;

/**
 * The Mamba backbone's temporal convolution before each TTT sub-block ({@code pre_conv},
 * reference.md §2): {@code conv(RMSNorm(h))}, a causal depthwise convolution of kernel {@code
 * conv_kernel} with bias and no activation. The residual block adds it to {@code h}.
 *
 * <p>Children {@code norm} ({@link RmsNorm}) and {@code conv} (DJL {@link Conv1d}, {@code (C, 1,
 * k)}, PyTorch's default init U(±1/√k)). Its state is the window of the last {@code k − 1} normed
 * inputs ({@link CausalConv}).
 */
public final class PreConv extends AbstractBlock {

    private static final byte VERSION = 1;

    private final int kernel;
    private final RmsNorm norm;
    private final Conv1d conv;

    /**
     * Creates the sub-block.
     *
     * @param config the config (hidden size, conv kernel, RMSNorm ε)
     */
    public PreConv(TttConfig config) {
        super(VERSION);
        kernel = config.getConvKernel();
        norm = addChildBlock("norm", RmsNorm.fromConfig(config));
        conv =
                addChildBlock(
                        "conv",
                        Conv1d.builder()
                                .setKernelShape(new Shape(kernel))
                                .setFilters(config.getHiddenSize())
                                .optGroups(config.getHiddenSize())
                                .optBias(true)
                                .build());
        UniformInitializer init = new UniformInitializer((float) (1 / Math.sqrt(kernel)));
        conv.setInitializer(init, Parameter.Type.WEIGHT);
        conv.setInitializer(init, Parameter.Type.BIAS);
    }

    /**
     * Runs the convolution on a chunk.
     *
     * @param ps the parameter store
     * @param h the block input {@code (B, T, C)}
     * @param window the window after the previous chunk {@code (B, C, k − 1)}, or {@code null}
     * @param training whether autograd records
     * @return the convolution output {@code (B, T, C)} and the next window
     */
    public Result apply(ParameterStore ps, NDArray h, NDArray window, boolean training) {
        NDArray normed = norm.forward(ps, new NDList(h), training).head();
        NDArray padded = CausalConv.withHistory(normed, window, kernel);
        NDArray w = ps.getValue(conv.getParameters().get("weight"), h.getDevice(), training);
        NDArray b = ps.getValue(conv.getParameters().get("bias"), h.getDevice(), training);
        return new Result(CausalConv.apply(padded, w, b), CausalConv.nextWindow(padded, kernel));
    }

    /**
     * The convolution output and the window to carry.
     *
     * @param output {@code (B, T, C)}
     * @param window {@code (B, C, k − 1)}, or {@code null} when {@code k = 1}
     */
    public record Result(NDArray output, NDArray window) {}

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        return new NDList(apply(ps, inputs.head(), null, training).output());
    }

    /** {@inheritDoc} */
    @Override
    protected void initializeChildBlocks(
            NDManager manager, DataType dataType, Shape... inputShapes) {
        Shape x = inputShapes[0];
        norm.initialize(manager, dataType, x);
        conv.initialize(manager, dataType, new Shape(x.get(0), x.get(2), x.get(1)));
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }
}
