package ai.djl.ttt.lm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.training.ParameterStore;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.nn.InnerLossRecorder;
import ai.djl.ttt.nn.LayerState;
import ai.djl.ttt.nn.RmsNorm;
import ai.djl.ttt.nn.SequenceLayer;
import ai.djl.ttt.nn.SwiGluMlp;
import ai.djl.ttt.nn.TttLayer;
import ai.djl.ttt.runtime.Precision;
import ai.djl.ttt.runtime.ScanThreads;
import ai.djl.util.PairList;

/**
 * One block of the language model (the official {@code Block}, reference.md §2), pre-norm residual:
 *
 * <pre>
 * if pre_conv:  h = h + conv(RMSNorm_conv(h))
 * h = h + seq_modeling_block(RMSNorm_seq(h))       (TTT-Linear, TTT-MLP or a baseline)
 * h = h + mlp(RMSNorm_ffn(h))                       (SwiGLU)
 * </pre>
 *
 * Children, in official order: {@code seq_modeling_block}, {@code mlp}, {@code conv} (pre_conv
 * only), {@code seq_norm}, {@code ffn_norm}. Input and output {@code (B, T, C)}.
 */
public final class ResidualBlock extends AbstractBlock {

    private static final byte VERSION = 1;

    private final SequenceLayer<? extends LayerState> sequence;
    private final SwiGluMlp mlp;
    private final PreConv conv;
    private final RmsNorm seqNorm;
    private final RmsNorm ffnNorm;

    /**
     * Creates the block for a config.
     *
     * @param config the model config
     */
    public ResidualBlock(TttConfig config) {
        super(VERSION);
        // the model checks its token ids; hidden states need no NaN scan per layer
        sequence = addChildBlock("seq_modeling_block", SequenceLayers.fromConfig(config, false));
        mlp =
                addChildBlock(
                        "mlp",
                        new SwiGluMlp(
                                config.getHiddenSize(),
                                config.getIntermediateSize(),
                                config.getInitializerRange()));
        conv = config.isPreConv() ? addChildBlock("conv", new PreConv(config)) : null;
        seqNorm = addChildBlock("seq_norm", RmsNorm.fromConfig(config));
        ffnNorm = addChildBlock("ffn_norm", RmsNorm.fromConfig(config));
    }

    /**
     * Runs the block on a chunk.
     *
     * @param ps the parameter store
     * @param h the hidden states {@code (B, T, C)}
     * @param state the block's state before the chunk, or {@code null} at the start
     * @param training whether autograd records
     * @param keepState whether to return the state after the chunk
     * @param layerParams forward-pass options for the sequence layer of a stateless pass (e.g. an
     *     {@link InnerLossRecorder}), or {@code null}
     * @return the new hidden states and, if asked, the state
     */
    public Output run(
            ParameterStore ps,
            NDArray h,
            State state,
            boolean training,
            boolean keepState,
            PairList<String, Object> layerParams) {
        NDArray window = null;
        if (conv != null) {
            PreConv.Result c =
                    conv.apply(ps, h, state == null ? null : state.convWindow(), training);
            h = h.add(c.output());
            window = c.window();
        }
        NDArray x = seqNorm.forward(ps, new NDList(h), training).head();
        LayerState next = null;
        if (keepState) {
            SequenceLayer.Output<? extends LayerState> out =
                    prefill(sequence, ps, x, state == null ? null : state.layer(), training);
            h = h.add(out.output());
            next = out.state();
        } else {
            h = h.add(sequence.forward(ps, new NDList(x), training, layerParams).head());
        }
        NDArray f = ffnNorm.forward(ps, new NDList(h), training).head();
        // the feed-forward is three matrix products around two small ops (see ScanThreads.wide)
        NDArray mlpOut = ScanThreads.wide(f, () -> mlp.forward(ps, new NDList(f), training).head());
        h = h.add(mlpOut);
        return new Output(h, keepState ? new State(next, window) : null);
    }

    @SuppressWarnings("unchecked")
    private static <S extends LayerState> SequenceLayer.Output<S> prefill(
            SequenceLayer<S> layer,
            ParameterStore ps,
            NDArray x,
            LayerState state,
            boolean training) {
        return layer.prefill(ps, x, (S) state, training);
    }

    /**
     * Sets the precision of this block's inference products: the feed-forward's and, for a TTT
     * layer, its projections' (see {@link TttLayer#setPrecision}). A baseline layer (attention,
     * linear attention) keeps its float32 products.
     *
     * @param precision the precision
     */
    public void setPrecision(Precision precision) {
        mlp.setPrecision(precision);
        if (sequence instanceof TttLayer layer) {
            layer.setPrecision(precision);
        }
    }

    /**
     * Returns the feed-forward sub-block.
     *
     * @return {@code mlp}
     */
    public SwiGluMlp getMlp() {
        return mlp;
    }

    /**
     * Returns the sequence layer.
     *
     * @return {@code seq_modeling_block}
     */
    public SequenceLayer<? extends LayerState> getSequenceLayer() {
        return sequence;
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        return new NDList(run(ps, inputs.head(), null, training, false, params).hidden());
    }

    /** {@inheritDoc} */
    @Override
    protected void initializeChildBlocks(
            NDManager manager, DataType dataType, Shape... inputShapes) {
        Shape x = inputShapes[0];
        sequence.initialize(manager, dataType, x);
        mlp.initialize(manager, dataType, x);
        if (conv != null) {
            conv.initialize(manager, dataType, x);
        }
        seqNorm.initialize(manager, dataType, x);
        ffnNorm.initialize(manager, dataType, x);
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }

    /**
     * The state of one block between calls.
     *
     * @param layer the sequence layer's state
     * @param convWindow the pre-conv window {@code (B, C, k − 1)}, or {@code null}
     */
    public record State(LayerState layer, NDArray convWindow) {}

    /**
     * The block's output on a chunk.
     *
     * @param hidden the new hidden states {@code (B, T, C)}
     * @param state the state after the chunk, or {@code null} if not asked for
     */
    public record Output(NDArray hidden, State state) {}
}
