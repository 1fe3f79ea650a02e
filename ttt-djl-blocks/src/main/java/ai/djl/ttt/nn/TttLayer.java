package ai.djl.ttt.nn;

import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.convolutional.Conv1d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.Initializer;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.training.initializer.UniformInitializer;
import ai.djl.ttt.config.LayerType;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.nn.inner.DenseChain;
import ai.djl.ttt.nn.inner.FastWeights;
import ai.djl.ttt.nn.inner.InnerForm;
import ai.djl.ttt.nn.inner.InnerMath;
import ai.djl.ttt.nn.inner.InnerModel;
import ai.djl.ttt.nn.inner.InnerOptimizer;
import ai.djl.ttt.nn.inner.ReconstructionLoss;
import ai.djl.ttt.nn.inner.Rope;
import ai.djl.ttt.nn.inner.Scan;
import ai.djl.ttt.runtime.HalfProducts;
import ai.djl.ttt.runtime.Precision;
import ai.djl.ttt.runtime.ScanThreads;
import ai.djl.ttt.runtime.Scopes;
import ai.djl.util.PairList;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.function.Function;
import java.util.function.UnaryOperator;

/**
 * A Test-Time Training layer (arXiv 2407.04620): a sequence layer whose hidden state is a small
 * model, trained by gradient descent on the tokens it reads. This base class holds everything
 * TTT-Linear ({@link TttLinear}) and TTT-MLP ({@link TttMlp}) share; they differ only in the shape
 * of the inner model.
 *
 * <p>Input {@code X}: {@code (B, T, C)}, any {@code T ≥ 1}; output {@code (B, T, C)}. Data flows
 * one way (reference.md §1.2):
 *
 * <ol>
 *   <li>projections {@code XQ, XK, XV = X Wq, X Wk, X Wv} (or, with {@code share_qk}, one
 *       projection followed by two causal depthwise convolutions), split into heads {@code (B, T,
 *       H, f)}, interleaved RoPE on XQ and XK at position mod b;
 *   <li>the inner learning rate {@code lr = η_base σ(X w_h + c_h) / f} per token and head;
 *   <li>the {@link Scan} over mini-batches of b tokens, the only sequential part: the inner model
 *       learns to map XK to {@code XV − XK} and is applied to XQ, in the dual form (or the primal
 *       form, {@link InnerForm});
 *   <li>{@code XQ + LN_h(Z̄)}, heads merged, {@code post_norm} (LayerNorm over C), the optional
 *       gate {@code gelu_tanh(X Wg) ⊙ ·}, and {@code o_proj}.
 * </ol>
 *
 * <p>Besides the plain {@code forward}, a layer can carry its recurrent state across calls ({@link
 * #prefill}, {@link #step}, or the NDList protocol {@code [X, state...] → [Y, state...]}): a prompt
 * can be prefilled in chunks of any size, starting at any offset, and then decoded token by token,
 * with results equal to one forward over the whole sequence.
 *
 * <p>Parameters and their initialisation follow the official {@code TTTBase} (reference.md §1.1):
 * {@code learnable_token_idx (b)}, {@code learnable_ttt_lr_weight (H, 1, C)}, {@code
 * learnable_ttt_lr_bias (H, 1)}, {@code ttt_norm_weight, ttt_norm_bias (H, f)}, the inner weights,
 * the {@code q/k/v/o/g_proj} linears, the {@code conv_q/conv_k} convolutions and {@code post_norm}.
 */
public abstract class TttLayer extends AbstractBlock implements SequenceLayer<TttState> {

    /**
     * Key of the {@code params} argument of {@code forward} that chooses the {@link InnerForm} of
     * one call, overriding the layer's default.
     */
    public static final String FORM_PARAM = "ttt.form";

    private static final byte VERSION = 1;

    /** Epsilon of {@code post_norm}, hard-coded 1e-6 in {@code ttt.py}. */
    private static final float POST_NORM_EPS = 1e-6f;

    /** Standard deviation of the lr gate, hard-coded 0.02 in {@code ttt.py}. */
    private static final float LR_GATE_INIT_STD = 0.02f;

    /**
     * Inference passes over longer sequences run in chunks of this many tokens (a multiple of every
     * mini-batch size in use, so chunks start at mini-batch boundaries): beyond it, one pass gains
     * nothing from more hoisting and only grows its working set.
     */
    static final int PREFILL_CHUNK = 2048;

    private final TttConfig config;
    private final InnerModel innerModel;
    private final InnerOptimizer innerOptimizer;
    private final InnerForm defaultForm;
    private final boolean checkFinite;

    private final Parameter learnableTokenIdx;
    private final Parameter learningRateWeight;
    private final Parameter learningRateBias;
    private final Parameter normWeight;
    private final Parameter normBias;
    private final List<Parameter> innerWeights = new ArrayList<>();

    private final Linear queryProjection;
    private final Linear keyProjection;
    private final Linear valueProjection;
    private final Linear outputProjection;
    private final Conv1d queryConv;
    private final Conv1d keyConv;
    private final Linear gateProjection;
    private final LayerNorm postNorm;

    /** The float16 copies of {@link Precision#FLOAT16} inference, {@code null} in float32. */
    private volatile HalfWeights half;

    /**
     * Declares the parameters and child blocks.
     *
     * @param builder the builder
     * @param type the layer type this subclass implements
     * @param innerModel the inner model, whose initial weights become parameters of the layer
     */
    protected TttLayer(Builder<?> builder, LayerType type, InnerModel innerModel) {
        super(VERSION);
        config = builder.config;
        if (config.getLayerType() != type) {
            throw new IllegalArgumentException(
                    getClass().getSimpleName()
                            + " needs ttt_layer_type '"
                            + type.officialName()
                            + "', the config says '"
                            + config.getLayerType().officialName()
                            + "'; use TttLayer.fromConfig(config) to build the matching layer");
        }
        this.innerModel = innerModel;
        innerOptimizer = new InnerOptimizer(config.getTttBaseLr(), config.getHeadDim());
        defaultForm = builder.form;
        checkFinite = builder.checkFinite;
        int heads = config.getNumAttentionHeads();
        int width = config.getHiddenSize();
        int headDim = config.getHeadDim();

        learnableTokenIdx =
                addParameter(
                        parameter(
                                "learnable_token_idx",
                                Parameter.Type.OTHER,
                                new Shape(config.getMiniBatchSize()),
                                Initializer.ZEROS));
        learningRateWeight =
                addParameter(
                        parameter(
                                "learnable_ttt_lr_weight",
                                Parameter.Type.WEIGHT,
                                new Shape(heads, 1, width),
                                new NormalInitializer(LR_GATE_INIT_STD)));
        learningRateBias =
                addParameter(
                        parameter(
                                "learnable_ttt_lr_bias",
                                Parameter.Type.BIAS,
                                new Shape(heads, 1),
                                Initializer.ZEROS));
        normWeight =
                addParameter(
                        parameter(
                                "ttt_norm_weight",
                                Parameter.Type.GAMMA,
                                new Shape(heads, headDim),
                                Initializer.ONES));
        normBias =
                addParameter(
                        parameter(
                                "ttt_norm_bias",
                                Parameter.Type.BETA,
                                new Shape(heads, headDim),
                                Initializer.ZEROS));
        for (InnerModel.Weight w : innerModel.weights(heads)) {
            Parameter.Type kind = w.bias() ? Parameter.Type.BIAS : Parameter.Type.WEIGHT;
            innerWeights.add(addParameter(parameter(w.name(), kind, w.shape(), w.initializer())));
        }

        queryProjection = addChildBlock("q_proj", projection());
        keyProjection = config.isShareQk() ? null : addChildBlock("k_proj", projection());
        valueProjection = addChildBlock("v_proj", projection());
        outputProjection = addChildBlock("o_proj", projection());
        queryConv = config.isShareQk() ? addChildBlock("conv_q", depthwiseConv()) : null;
        keyConv = config.isShareQk() ? addChildBlock("conv_k", depthwiseConv()) : null;
        gateProjection = config.isUseGate() ? addChildBlock("g_proj", projection()) : null;
        postNorm =
                addChildBlock(
                        "post_norm", LayerNorm.builder().axis(2).optEpsilon(POST_NORM_EPS).build());
    }

    /**
     * Builds the layer that matches {@code config.getLayerType()}.
     *
     * @param config the configuration
     * @return a {@link TttLinear} or a {@link TttMlp}
     */
    public static TttLayer fromConfig(TttConfig config) {
        return fromConfig(config, true);
    }

    /**
     * Builds the layer that matches {@code config.getLayerType()}.
     *
     * @param config the configuration
     * @param checkFinite whether each forward checks its input for NaN and infinities (see {@link
     *     Builder#optCheckFinite})
     * @return a {@link TttLinear} or a {@link TttMlp}
     */
    public static TttLayer fromConfig(TttConfig config, boolean checkFinite) {
        if (!config.getLayerType().isTtt()) {
            throw new IllegalArgumentException(
                    "ttt_layer_type '"
                            + config.getLayerType().officialName()
                            + "' is not a TTT layer; the language model builds it");
        }
        // the inner model's shape tells the two apart: TTT-MLP has hidden layers
        return config.getInnerHiddenMultiples().isEmpty()
                ? TttLinear.builder().setConfig(config).optCheckFinite(checkFinite).build()
                : TttMlp.builder().setConfig(config).optCheckFinite(checkFinite).build();
    }

    /**
     * The inner model a config describes: a {@link DenseChain} {@code f → h_1 → … → f} whose hidden
     * widths are {@code ttt_inner_hidden_multiples} times f (none for TTT-Linear; {@code 4f} for
     * the paper's TTT-MLP).
     *
     * @param config the configuration
     * @return the inner model
     */
    protected static InnerModel innerModel(TttConfig config) {
        int f = config.getHeadDim();
        List<Integer> hidden = new ArrayList<>();
        for (int multiple : config.getInnerHiddenMultiples()) {
            hidden.add(multiple * f);
        }
        return new DenseChain(f, hidden);
    }

    /**
     * Returns the configuration this layer was built with.
     *
     * @return the config
     */
    public TttConfig getConfig() {
        return config;
    }

    /**
     * Returns the inner model of this layer.
     *
     * @return {@link LayerType#LINEAR} or {@link LayerType#MLP}
     */
    public LayerType getLayerType() {
        return config.getLayerType();
    }

    /**
     * Returns the inner model whose weights are this layer's hidden state.
     *
     * @return the inner model
     */
    public InnerModel getInnerModel() {
        return innerModel;
    }

    /**
     * Returns the form used for full mini-batches unless a call chooses otherwise.
     *
     * @return the default form
     */
    public InnerForm getDefaultForm() {
        return defaultForm;
    }

    /**
     * Sets the precision of this layer's inference products. In {@link Precision#FLOAT16} the layer
     * holds float16 copies of {@code q/k/v_proj} (stacked into one {@code (3C, C)} matrix, or
     * {@code (2C, C)} with {@code share_qk}), {@code o_proj} and {@code g_proj}, owned by the
     * parameters' manager, and multiplies a decode step's row by them ({@link HalfProducts}); the
     * inner loop, the norms and the state stay in the parameters' type. {@link Precision#FLOAT32}
     * releases the copies. Copies are taken from the current weights: set the precision again after
     * loading or training. Not to be called while a forward pass runs.
     *
     * @param precision the precision
     * @throws IllegalStateException if the layer is not initialized
     */
    public void setPrecision(Precision precision) {
        if (!isInitialized()) {
            throw new IllegalStateException(
                    getClass().getSimpleName() + " is not initialized: initialize it first");
        }
        HalfWeights old = half;
        half = null;
        if (old != null) {
            old.close();
        }
        if (precision == Precision.FLOAT16) {
            NDArray[] inputs =
                    keyProjection == null
                            ? new NDArray[] {weight(queryProjection), weight(valueProjection)}
                            : new NDArray[] {
                                weight(queryProjection),
                                weight(keyProjection),
                                weight(valueProjection)
                            };
            half =
                    new HalfWeights(
                            HalfProducts.copy(inputs),
                            HalfProducts.copy(weight(outputProjection)),
                            gateProjection == null
                                    ? null
                                    : HalfProducts.copy(weight(gateProjection)));
        }
    }

    /**
     * Returns the precision of this layer's inference products.
     *
     * @return {@link Precision#FLOAT16} when it holds float16 copies, else {@link
     *     Precision#FLOAT32}
     */
    public Precision getPrecision() {
        return half == null ? Precision.FLOAT32 : Precision.FLOAT16;
    }

    private static NDArray weight(Linear linear) {
        return linear.getParameters().get("weight").getArray();
    }

    /**
     * Runs the layer on a chunk, continuing a recurrent state. The chunk may have any length and
     * the state may be at any position: the result equals the corresponding slice of one forward
     * over the whole sequence.
     *
     * @param parameterStore the parameter store
     * @param x the chunk {@code (B, T, C)}
     * @param state the state before the chunk, or {@code null} to start a sequence
     * @param training whether autograd records (as in {@code Block.forward})
     * @return the output {@code (B, T, C)} and the state after the chunk
     */
    @Override
    public Output<TttState> prefill(
            ParameterStore parameterStore, NDArray x, TttState state, boolean training) {
        return run(parameterStore, x, state, defaultForm, training, true, null);
    }

    /**
     * Decodes one token per row in the primal form (reference.md §3). Rows may be at different
     * positions.
     *
     * @param parameterStore the parameter store
     * @param token the next token's input {@code (B, 1, C)}
     * @param state the state after the previous tokens
     * @return the output {@code (B, 1, C)} and the new state
     */
    public Output<TttState> step(ParameterStore parameterStore, NDArray token, TttState state) {
        if (token.getShape().dimension() == 3 && token.getShape().get(1) != 1) {
            throw new IllegalArgumentException(
                    "step() decodes one token: expected (B, 1, C), got " + token.getShape());
        }
        return run(parameterStore, token, state, InnerForm.PRIMAL, false, true, null);
    }

    /** {@inheritDoc} */
    @Override
    public TttState stateFromNDList(NDList list) {
        return TttState.fromNDList(list, innerModel.depth(), config.isShareQk());
    }

    /** {@inheritDoc} */
    @Override
    public int stateArrayCount() {
        return 1 + 2 * innerModel.depth() + (config.isShareQk() ? 1 : 0);
    }

    /**
     * {@inheritDoc}
     *
     * <p>The projections ({@code 2TC²} each: q, v, o, k without {@code share_qk}, the gate's with
     * {@code use_gate}), the inner learning rate ({@code 2TCH}) and the inner loop ({@link
     * InnerModel#flopsPerToken} per token and head).
     */
    @Override
    public double forwardFlops(long tokens) {
        double t = tokens;
        double c = config.getHiddenSize();
        double heads = config.getNumAttentionHeads();
        int projections = (keyProjection == null ? 3 : 4) + (gateProjection == null ? 0 : 1);
        return projections * 2 * t * c * c
                + 2 * t * c * heads
                + t * heads * innerModel.flopsPerToken(config.getMiniBatchSize());
    }

    /** {@inheritDoc} */
    @Override
    public TttState concatStates(List<TttState> states) {
        return TttState.concat(states);
    }

    /**
     * Returns the initial weights of the inner model, {@code W0} in the paper, learned by the outer
     * loop and tiled over the batch at the start of every sequence.
     *
     * @return {@code W1, b1[, W2, b2]}, each {@code (H, ·, ·)}
     */
    public List<Parameter> getInnerWeights() {
        return Collections.unmodifiableList(innerWeights);
    }

    /**
     * {@inheritDoc}
     *
     * <p>{@code [X]} gives {@code [Y]}; {@code [X, state...]} (see {@link TttState#toNDList}) gives
     * {@code [Y, state...]}. The {@code params} key {@link #FORM_PARAM} may choose the {@link
     * InnerForm}; an {@link InnerLossRecorder} under {@link InnerLossRecorder#PARAM} receives the
     * inner-loss statistics of a stateless forward.
     */
    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore,
            NDList inputs,
            boolean training,
            PairList<String, Object> params) {
        NDArray x = inputs.head();
        InnerForm form = defaultForm;
        if (params != null && params.get(FORM_PARAM) != null) {
            form = InnerForm.valueOf(params.get(FORM_PARAM).toString());
        }
        if (inputs.size() == 1) {
            InnerLossRecorder recorder = InnerLossRecorder.from(params);
            return new NDList(
                    run(parameterStore, x, null, form, training, false, recorder).output());
        }
        TttState state = stateFromNDList(inputs.subNDList(1));
        Output<TttState> out = run(parameterStore, x, state, form, training, true, null);
        NDList result = new NDList(out.output());
        result.addAll(out.state().toNDList(x.getManager()));
        Scopes.closeAllBut(out.state().arrays(), result);
        return result;
    }

    /**
     * The whole layer, in the order of reference.md §1.2; the state after the chunk only if asked
     * for.
     */
    private Output<TttState> run(
            ParameterStore ps,
            NDArray x,
            TttState state,
            InnerForm form,
            boolean training,
            boolean keepState,
            InnerLossRecorder recorder) {
        validateInput(x);
        TttState before = state == null ? TttState.start((int) x.getShape().get(0)) : state;
        validateState(before, x);
        long[] starts =
                before.isAligned() ? new long[] {before.getPositions()[0]} : before.getPositions();
        long length = x.getShape().get(1);
        if (length == 1) {
            // a decode step is small ops and matrix-vector products: one thread, the products
            // on libtorch's (see ScanThreads.run and wide)
            return ScanThreads.run(
                    x, () -> layer(ps, x, before, starts, form, training, keepState, recorder));
        }
        if (!training && recorder == null && length > PREFILL_CHUNK) {
            return inChunks(ps, x, before, form, keepState);
        }
        return layer(ps, x, before, starts, form, training, keepState, recorder);
    }

    /**
     * An inference pass over a long sequence, {@link #PREFILL_CHUNK} tokens at a time with the
     * state carried from chunk to chunk: the same result as one pass (the scan is sequential
     * anyway), but the hoisted per-mini-batch arrays of only one chunk are alive at a time, so the
     * working set and the peak memory stay those of one chunk and the time grows linearly in {@code
     * T}.
     */
    private Output<TttState> inChunks(
            ParameterStore ps, NDArray x, TttState before, InnerForm form, boolean keepState) {
        long length = x.getShape().get(1);
        NDList outputs = new NDList();
        TttState state = before;
        // the first chunk ends on a mini-batch boundary, so that the others are whole mini-batches
        long offset = before.getPositions()[0] % config.getMiniBatchSize();
        for (long from = 0, to; from < length; from = to) {
            to = Math.min(length, from + PREFILL_CHUNK - (from == 0 ? offset : 0));
            TttState current = state;
            Output<TttState> out;
            try (NDArray chunk = x.get(new NDIndex().addAllDim().addSliceDim(from, to))) {
                long[] starts = {current.getPositions()[0]};
                out = layer(ps, chunk, current, starts, form, false, true, null);
            }
            outputs.add(out.output());
            if (current != before) {
                current.close(); // the next state holds its own handles (see nextState)
            }
            state = out.state();
        }
        NDArray y = NDArrays.concat(outputs, 1);
        outputs.close();
        if (keepState) {
            return new Output<>(y, state);
        }
        state.close();
        return new Output<>(y, null);
    }

    private Output<TttState> layer(
            ParameterStore ps,
            NDArray x,
            TttState before,
            long[] starts,
            InnerForm form,
            boolean training,
            boolean keepState,
            InnerLossRecorder recorder) {
        return Scopes.run(
                x.getManager(),
                () -> {
                    // matrix products: libtorch's threads even inside a decode step
                    Projections projections =
                            ScanThreads.wide(
                                    x, () -> project(ps, x, before.getConvWindow(), training));
                    Scan.Inputs inputs = scanInputs(ps, x, projections, starts, training);
                    FastWeights initial = initialWeights(ps, x, before, training);
                    boolean record = recorder != null;
                    Scan.Result scanned =
                            new Scan(
                                            innerModel,
                                            reconstructionLoss(ps, x, training),
                                            innerOptimizer,
                                            form,
                                            record)
                                    .run(initial, inputs, starts);
                    if (record) {
                        recorder.add(scanned.innerLoss());
                    }
                    NDArray y = output(ps, x, inputs.query(), scanned.output(), training);
                    if (!keepState) {
                        return new Output<>(y, null);
                    }
                    int length = (int) x.getShape().get(1);
                    TttState after =
                            nextState(
                                    before,
                                    length,
                                    scanned.state(),
                                    projections.convWindow(),
                                    initial);
                    return new Output<>(y, after);
                },
                TttLayer::arraysOf);
    }

    /**
     * Heads, RoPE at position mod b, the target and the inner learning rates (reference.md
     * §1.2.2–6).
     */
    private Scan.Inputs scanInputs(
            ParameterStore ps, NDArray x, Projections p, long[] starts, boolean training) {
        NDArray query = splitHeads(p.query());
        NDArray key = splitHeads(p.key());
        int length = (int) x.getShape().get(1);
        int f = config.getHeadDim();
        long period = config.getMiniBatchSize();
        if (length == 1 && starts.length == 1) {
            // a decode step at one position for all rows: one matrix product per array instead of
            // the tables' seven ops (rows at different positions keep the tables: B matrices of f²
            // would cost more to build than the ops they save)
            NDArray rotation =
                    Rope.matrices(x.getManager(), x, starts, f, period, config.getRopeTheta());
            query = query.matMul(rotation);
            key = key.matMul(rotation);
        } else {
            NDArray[] rotary =
                    Rope.tables(
                            x.getManager(), x, starts, length, f, period, config.getRopeTheta());
            query = Rope.rotate(query, rotary);
            key = Rope.rotate(key, rotary);
        }
        return new Scan.Inputs(
                query,
                key,
                splitHeads(p.value()).sub(key),
                innerOptimizer.learningRates(
                        x,
                        value(ps, learningRateWeight, x, training),
                        value(ps, learningRateBias, x, training)),
                innerOptimizer.tokenFactors(value(ps, learnableTokenIdx, x, training), x));
    }

    /** The inner loss with this layer's reconstruction LayerNorm, γ and β per folded row. */
    private ReconstructionLoss reconstructionLoss(ParameterStore ps, NDArray x, boolean training) {
        return new ReconstructionLoss(
                perRow(value(ps, normWeight, x, training), x),
                perRow(value(ps, normBias, x, training), x));
    }

    /** A per-head {@code (H, f)} parameter laid out per folded row {@code (B·H, 1, f)}. */
    private static NDArray perRow(NDArray perHead, NDArray x) {
        Shape s = perHead.getShape();
        long batch = x.getShape().get(0);
        if (batch == 1) {
            return perHead.reshape(s.get(0), 1, s.get(1)); // one op where the tiling takes three
        }
        return perHead.reshape(1, s.get(0), 1, s.get(1))
                .broadcast(batch, s.get(0), 1, s.get(1))
                .reshape(batch * s.get(0), 1, s.get(1));
    }

    /** {@code XQ + LN_h(Z̄)}, merge heads, post_norm, gate, o_proj (reference.md §1.2.8–12). */
    private NDArray output(
            ParameterStore ps, NDArray x, NDArray query, NDArray innerOutput, boolean training) {
        NDArray gamma = value(ps, normWeight, x, training);
        NDArray beta = value(ps, normBias, x, training);
        // the residual inside the inner model adds the test view XQ (reference.md §14.4)
        NDArray y = query.add(InnerMath.layerNorm(innerOutput, gamma, beta)).reshape(x.getShape());
        y = postNorm.forward(ps, new NDList(y), training).head();
        HalfWeights h = halfFor(x, training);
        if (gateProjection != null) {
            NDArray gate =
                    ScanThreads.wide(
                            x,
                            () ->
                                    h != null
                                            ? HalfProducts.product(x, h.gate())
                                            : gateProjection
                                                    .forward(ps, new NDList(x), training)
                                                    .head());
            y = InnerMath.geluTanh(gate).mul(y);
        }
        NDArray merged = y;
        return ScanThreads.wide(
                y,
                () ->
                        h != null
                                ? HalfProducts.product(merged, h.output())
                                : outputProjection
                                        .forward(ps, new NDList(merged), training)
                                        .head());
    }

    private static List<NDArray> arraysOf(Output<TttState> out) {
        List<NDArray> arrays = new ArrayList<>();
        arrays.add(out.output());
        if (out.state() != null) {
            arrays.addAll(out.state().arrays());
        }
        return arrays;
    }

    /**
     * XQ, XK, XV {@code (B, T, C)} (reference.md §1.2.1), and the next conv window with share_qk.
     */
    private Projections project(ParameterStore ps, NDArray x, NDArray window, boolean training) {
        HalfWeights h = halfFor(x, training);
        NDArray[] qkv = null;
        if (h != null) {
            // one float16 product for the stacked weights, cast back once, then cut
            NDArray all = HalfProducts.product(x, h.projections());
            int last = all.getShape().dimension() - 1; // DJL's split takes no negative axis
            qkv = all.split(config.isShareQk() ? 2 : 3, last).toArray(new NDArray[0]);
        }
        NDList in = new NDList(x);
        NDArray value =
                qkv != null
                        ? qkv[qkv.length - 1]
                        : valueProjection.forward(ps, in, training).head();
        if (!config.isShareQk()) {
            return new Projections(
                    qkv != null ? qkv[0] : queryProjection.forward(ps, in, training).head(),
                    qkv != null ? qkv[1] : keyProjection.forward(ps, in, training).head(),
                    value,
                    null);
        }
        // one projection, two different causal convolutions over time (reference.md §14.7)
        NDArray shared = qkv != null ? qkv[0] : queryProjection.forward(ps, in, training).head();
        int kernel = config.getConvKernel();
        NDArray padded = CausalConv.withHistory(shared, window, kernel);
        NDArray query = convolve(ps, queryConv, padded, x, training);
        NDArray key = convolve(ps, keyConv, padded, x, training);
        return new Projections(query, key, value, CausalConv.nextWindow(padded, kernel));
    }

    private NDArray convolve(
            ParameterStore ps, Conv1d conv, NDArray padded, NDArray x, boolean training) {
        NDArray weight = ps.getValue(conv.getParameters().get("weight"), x.getDevice(), training);
        NDArray bias = ps.getValue(conv.getParameters().get("bias"), x.getDevice(), training);
        return CausalConv.apply(padded, weight, bias);
    }

    /** The state's inner weights, or the learned initial weights tiled over the batch. */
    private FastWeights initialWeights(
            ParameterStore ps, NDArray x, TttState state, boolean training) {
        if (state.getWeights() != null) {
            return state.getWeights();
        }
        List<NDArray> values = new ArrayList<>();
        for (Parameter p : innerWeights) {
            values.add(value(ps, p, x, training));
        }
        return innerModel.initialState(values, x.getShape().get(0));
    }

    /**
     * The state after the chunk. It must stay valid when the caller closes the state it passed in,
     * or an optimizer updates the parameters: arrays that are still the caller's get a new handle,
     * and arrays that still view the parameters (a sequence shorter than one mini-batch) get a
     * copy. The copy is {@code a + 0}, not {@code duplicate()}: on PyTorch {@code duplicate()}
     * detaches, which cut the gradient of the initial inner weights through a state carried from
     * one training chunk to the next ({@code GradientCheckTest.oneTokenStepsHaveExactGradients}).
     */
    private TttState nextState(
            TttState before, int length, FastWeights weights, NDArray window, FastWeights initial) {
        boolean fromParameters = before.getWeights() == null;
        List<NDArray> shared = Arrays.asList(initial.arrays());
        UnaryOperator<NDArray> own =
                a ->
                        shared.stream().noneMatch(i -> i == a)
                                ? a
                                : fromParameters ? a.add(0) : a.reshape(a.getShape());
        long[] positions = before.getPositions();
        for (int i = 0; i < positions.length; i++) {
            positions[i] += length;
        }
        return new TttState(positions, weights.map(own), window);
    }

    /** {@code (B, T, C) → (B, T, H, f)}. */
    private NDArray splitHeads(NDArray x) {
        Shape s = x.getShape();
        return x.reshape(s.get(0), s.get(1), config.getNumAttentionHeads(), config.getHeadDim());
    }

    private static NDArray value(ParameterStore ps, Parameter p, NDArray x, boolean training) {
        return ps.getValue(p, x.getDevice(), training);
    }

    private void validateInput(NDArray x) {
        Shape s = x.getShape();
        String name = getClass().getSimpleName();
        if (!isInitialized()) {
            throw new IllegalStateException(
                    name + " is not initialized: call initialize(manager, dataType, (B, T, C))");
        }
        if (s.dimension() != 3) {
            throw new IllegalArgumentException(
                    name + " expects input (B, T, C) of rank 3, got shape " + s);
        }
        if (s.get(2) != config.getHiddenSize()) {
            throw new IllegalArgumentException(
                    name
                            + " expects C = hidden_size = "
                            + config.getHiddenSize()
                            + " channels, got shape "
                            + s);
        }
        if (s.get(0) < 1) {
            throw new IllegalArgumentException(name + " got an empty batch: shape " + s);
        }
        if (s.get(1) < 1) {
            throw new IllegalArgumentException(
                    name + " got an empty sequence (T = 0) in shape " + s + "; T must be >= 1");
        }
        DataType dtype = learnableTokenIdx.getArray().getDataType();
        if (x.getDataType() != dtype) {
            throw new IllegalArgumentException(
                    name
                            + " parameters are "
                            + dtype
                            + " but the input is "
                            + x.getDataType()
                            + "; convert one of them");
        }
        if (checkFinite && !sumIsFinite(x)) {
            // NaN and ±∞ make the sum non-finite; only then (or when finite values overflow it)
            // look element by element: one reduction instead of four passes per forward
            try (NDArray nan = x.isNaN();
                    NDArray anyNan = nan.any();
                    NDArray inf = x.isInfinite();
                    NDArray anyInf = inf.any()) {
                if (anyNan.getBoolean() || anyInf.getBoolean()) {
                    throw new IllegalArgumentException(
                            name + " input " + s + " contains NaN or infinite values");
                }
            }
        }
    }

    private static boolean sumIsFinite(NDArray x) {
        try (NDArray sum = x.sum();
                NDArray wide = sum.toType(DataType.FLOAT64, false)) {
            return Double.isFinite(wide.getDouble());
        }
    }

    private void validateState(TttState state, NDArray x) {
        long batch = x.getShape().get(0);
        LayerState.checkBatchSize(state.getBatchSize(), x.getShape());
        if (!state.isAligned() && x.getShape().get(1) != 1) {
            throw new IllegalArgumentException(
                    "rows at different positions can only advance one token per call; got T = "
                            + x.getShape().get(1));
        }
        if (state.getWeights() != null) {
            NDArray w1 = state.getWeights().layer(0);
            Shape w = innerWeights.get(0).getArray().getShape(); // (H, f, ·)
            Shape expected = new Shape(batch * w.get(0), w.get(1) + 1, w.get(2));
            if (!w1.getShape().equals(expected)) {
                throw new IllegalArgumentException(
                        "the state's W1 has shape "
                                + w1.getShape()
                                + ", expected "
                                + expected
                                + " for this layer");
            }
            if (w1.getDataType() != x.getDataType()) {
                throw new IllegalArgumentException(
                        "the state is "
                                + w1.getDataType()
                                + " but the input is "
                                + x.getDataType());
            }
        }
    }

    private static Parameter parameter(
            String name, Parameter.Type type, Shape shape, Initializer init) {
        return Parameter.builder()
                .setName(name)
                .setType(type)
                .optShape(shape)
                .optInitializer(init)
                .build();
    }

    private Linear projection() {
        Linear linear = Linear.builder().setUnits(config.getHiddenSize()).optBias(false).build();
        linear.setInitializer(
                new NormalInitializer((float) config.getInitializerRange()), Parameter.Type.WEIGHT);
        return linear;
    }

    /** PyTorch's default Conv1d init: U(±1/√fan_in), fan_in = kernel width (reference.md §2). */
    private Conv1d depthwiseConv() {
        int kernel = config.getConvKernel();
        Conv1d conv =
                Conv1d.builder()
                        .setKernelShape(new Shape(kernel))
                        .setFilters(config.getHiddenSize())
                        .optGroups(config.getHiddenSize())
                        .optBias(true)
                        .build();
        UniformInitializer init = new UniformInitializer((float) (1 / Math.sqrt(kernel)));
        conv.setInitializer(init, Parameter.Type.WEIGHT);
        conv.setInitializer(init, Parameter.Type.BIAS);
        return conv;
    }

    /** {@inheritDoc} */
    @Override
    protected void beforeInitialize(Shape... inputShapes) {
        super.beforeInitialize(inputShapes);
        Shape s = inputShapes[0];
        if (s.dimension() != 3 || s.get(2) != config.getHiddenSize()) {
            throw new IllegalArgumentException(
                    getClass().getSimpleName()
                            + " expects input (B, T, C) with C = "
                            + config.getHiddenSize()
                            + ", got shape "
                            + s);
        }
    }

    /**
     * {@inheritDoc}
     *
     * <p>Refuses bfloat16 and non-float types with an {@link IllegalArgumentException} before any
     * array is created (see {@link Precision#requireEngineType}: a bfloat16 array aborts the JVM
     * through DJL's PyTorch engine).
     */
    @Override
    public void initialize(NDManager manager, DataType dataType, Shape... inputShapes) {
        Precision.requireEngineType(dataType, "TttLayer's data type");
        super.initialize(manager, dataType, inputShapes);
    }

    /**
     * {@inheritDoc}
     *
     * <p>Refuses bfloat16 and non-float types as {@link #initialize} does, before any cast.
     */
    @Override
    public void cast(DataType dataType) {
        Precision.requireEngineType(dataType, "TttLayer's data type");
        super.cast(dataType);
    }

    /** {@inheritDoc} */
    @Override
    protected void initializeChildBlocks(
            NDManager manager, DataType dataType, Shape... inputShapes) {
        Shape x = inputShapes[0];
        for (Linear linear :
                new Linear[] {
                    queryProjection,
                    keyProjection,
                    valueProjection,
                    outputProjection,
                    gateProjection
                }) {
            if (linear != null) {
                linear.initialize(manager, dataType, x);
            }
        }
        if (queryConv != null) {
            Shape channelsFirst = new Shape(x.get(0), x.get(2), x.get(1));
            queryConv.initialize(manager, dataType, channelsFirst);
            keyConv.initialize(manager, dataType, channelsFirst);
        }
        postNorm.initialize(manager, dataType, x);
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }

    /** {@inheritDoc} */
    @Override
    protected void saveMetadata(DataOutputStream os) throws IOException {
        saveInputShapes(os);
        os.writeUTF(config.toJson());
    }

    /** {@inheritDoc} */
    @Override
    public void loadMetadata(byte loadVersion, DataInputStream is)
            throws IOException, MalformedModelException {
        if (loadVersion != VERSION) {
            throw new MalformedModelException(
                    "Unsupported encoding version of "
                            + getClass().getSimpleName()
                            + ": "
                            + loadVersion
                            + " (this build reads "
                            + VERSION
                            + ")");
        }
        readInputShapes(is);
        config.requireSameAs(is.readUTF(), getClass().getSimpleName());
    }

    /** The float16 copies if this product takes the float16 path ({@link HalfProducts#applies}). */
    private HalfWeights halfFor(NDArray x, boolean training) {
        HalfWeights h = half;
        return h != null && HalfProducts.applies(x, training) ? h : null;
    }

    /**
     * The float16 copies of {@link Precision#FLOAT16} inference.
     *
     * @param projections {@code [Wq; Wk; Wv]} {@code (3C, C)}, or {@code [Wq; Wv]} with share_qk
     * @param output {@code o_proj}'s weight {@code (C, C)}
     * @param gate {@code g_proj}'s weight, or {@code null} without the gate
     */
    private record HalfWeights(NDArray projections, NDArray output, NDArray gate) {
        void close() {
            projections.close();
            output.close();
            if (gate != null) {
                gate.close();
            }
        }
    }

    /** The three projected views of the input and the conv window after them. */
    private record Projections(NDArray query, NDArray key, NDArray value, NDArray convWindow) {}

    /**
     * The builder of {@link TttLinear} and {@link TttMlp} ({@code TttLinear.builder()}, {@code
     * TttMlp.builder()}).
     *
     * @param <L> the layer it builds
     */
    public static final class Builder<L extends TttLayer> {
        private final Function<Builder<L>, L> factory;
        TttConfig config;
        InnerForm form = InnerForm.DUAL;
        boolean checkFinite = true;

        Builder(Function<Builder<L>, L> factory) {
            this.factory = factory;
        }

        /**
         * Sets the configuration (required). Its {@code ttt_layer_type} must match the layer.
         *
         * @param config the config
         * @return this builder
         */
        public Builder<L> setConfig(TttConfig config) {
            this.config = config;
            return this;
        }

        /**
         * Sets the form of full mini-batches; {@link InnerForm#DUAL} by default.
         *
         * @param form the form
         * @return this builder
         */
        public Builder<L> optForm(InnerForm form) {
            this.form = form;
            return this;
        }

        /**
         * Sets whether each forward checks its input for NaN and infinities (true by default; a
         * model may turn it off for layers whose input it has already checked).
         *
         * @param check whether to check
         * @return this builder
         */
        public Builder<L> optCheckFinite(boolean check) {
            this.checkFinite = check;
            return this;
        }

        /**
         * Builds the layer.
         *
         * @return the layer
         * @throws IllegalArgumentException if the config is missing or names another layer type
         */
        public L build() {
            if (config == null) {
                throw new IllegalArgumentException("setConfig(TttConfig) is required");
            }
            if (form == null) {
                throw new IllegalArgumentException("form must not be null");
            }
            return factory.apply(this);
        }
    }
}
