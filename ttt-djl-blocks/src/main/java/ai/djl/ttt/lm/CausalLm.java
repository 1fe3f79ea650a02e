package ai.djl.ttt.lm;

import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Embedding;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.nn.InnerLossRecorder;
import ai.djl.ttt.nn.LayerState;
import ai.djl.ttt.nn.RmsNorm;
import ai.djl.ttt.nn.TttLayer;
import ai.djl.ttt.runtime.HalfProducts;
import ai.djl.ttt.runtime.Precision;
import ai.djl.ttt.runtime.ScanThreads;
import ai.djl.ttt.runtime.Scopes;
import ai.djl.util.PairList;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * A causal language model built of {@link ResidualBlock}s: the official {@code TTTForCausalLM}
 * (reference.md §2) for TTT-Linear and TTT-MLP layers, or the attention baseline with the same
 * scaffold.
 *
 * <pre>
 * h = embed_tokens[ids]                          (B, T) → (B, T, C)
 * h = layers_i(h)  for each block                 Transformer or Mamba backbone flags
 * logits = RMSNorm(h) · Eᵀ                       (B, T, V); E = embed_tokens when tied, else lm_head
 * </pre>
 *
 * <p>{@code [ids]} gives {@code [logits]} (training, scoring). With a state, {@code [ids, state...]
 * → [logits, state...]} (see {@link LmState}), or typed with {@link #prefill}: a prompt is
 * processed in the dual form and generation continues one token at a time in the primal form, with
 * a constant-size state for TTT layers.
 *
 * <p>Parameters: {@code embed_tokens (V, C)} N(0, initializer_range), the blocks, {@code norm (C)},
 * and {@code lm_head (V, C)} only when {@code tie_word_embeddings} is false.
 */
public final class CausalLm extends AbstractBlock {

    /**
     * The forward-pass option ({@code params} of {@code forward(ps, inputs, training, params)})
     * that chooses which positions get logits: {@link #LAST} for the last one only, {@code (B, 1,
     * V)} (what generation needs, see {@link #prefillLast}); absent or {@code "all"} for every
     * position.
     */
    public static final String LOGITS = "logits";

    /** The value of {@link #LOGITS} for the last position's logits only. */
    public static final String LAST = "last";

    private static final byte VERSION = 1;

    private final TttConfig config;
    private final Parameter embedding;
    private final List<ResidualBlock> blocks = new ArrayList<>();
    private final RmsNorm norm;
    private final Parameter head;

    /** The head's float16 copy {@code (V, C)} in {@link Precision#FLOAT16}, else {@code null}. */
    private volatile NDArray halfHead;

    private volatile Precision precision = Precision.FLOAT32;

    /**
     * Creates the model.
     *
     * @param config the config: sizes, layer type (linear, mlp, attention) and backbone flags
     */
    public CausalLm(TttConfig config) {
        super(VERSION);
        this.config = config;
        embedding =
                addParameter(
                        Parameter.builder()
                                .setName("embed_tokens")
                                .setType(Parameter.Type.WEIGHT)
                                .optShape(new Shape(config.getVocabSize(), config.getHiddenSize()))
                                .optInitializer(
                                        new NormalInitializer((float) config.getInitializerRange()))
                                .build());
        for (int i = 0; i < config.getNumHiddenLayers(); i++) {
            blocks.add(addChildBlock("layer" + i, new ResidualBlock(config)));
        }
        norm = addChildBlock("norm", RmsNorm.fromConfig(config));
        head =
                config.isTieWordEmbeddings()
                        ? null
                        : addParameter(
                                Parameter.builder()
                                        .setName("lm_head")
                                        .setType(Parameter.Type.WEIGHT)
                                        .optShape(
                                                new Shape(
                                                        config.getVocabSize(),
                                                        config.getHiddenSize()))
                                        .optInitializer(
                                                new NormalInitializer(
                                                        (float) config.getInitializerRange()))
                                        .build());
    }

    /**
     * Returns the config.
     *
     * @return the config
     */
    public TttConfig getConfig() {
        return config;
    }

    /**
     * Returns the blocks, in order.
     *
     * @return the blocks
     */
    public List<ResidualBlock> getBlocks() {
        return Collections.unmodifiableList(blocks);
    }

    /**
     * Returns the TTT layers of the blocks, in order (none for the attention baseline).
     *
     * @return the sequence layers that are TTT layers
     */
    public List<TttLayer> getTttLayers() {
        List<TttLayer> layers = new ArrayList<>();
        for (ResidualBlock block : blocks) {
            if (block.getSequenceLayer() instanceof TttLayer layer) {
                layers.add(layer);
            }
        }
        return layers;
    }

    /**
     * Returns the token embedding {@code (V, C)}.
     *
     * @return {@code embed_tokens}
     */
    public Parameter getEmbedding() {
        return embedding;
    }

    /**
     * Returns the final RMSNorm.
     *
     * @return {@code norm}
     */
    public RmsNorm getNorm() {
        return norm;
    }

    /**
     * Returns the output projection.
     *
     * @return {@code lm_head (V, C)}, or {@code null} when tied to the embedding
     */
    public Parameter getLmHead() {
        return head;
    }

    /**
     * Sets the precision the model infers in (see {@code docs/precision.md}).
     *
     * <p>{@link Precision#FLOAT16} makes float16 copies of the weights that a decode step
     * multiplies a row by — each TTT layer's {@code q/k/v_proj} (stacked, one product), {@code
     * o_proj} and {@code g_proj}, each block's SwiGLU {@code [gate; up]} (stacked) and {@code
     * down}, and the head ({@code lm_head} or the tied embedding) — owned by the parameters'
     * manager, so they are released with the model. A one-row product (a decode step at batch 1,
     * the last position of a batch-1 {@link #prefillLast}) then casts the row to float16,
     * multiplies and casts the result back; the inner loop, its LayerNorm, the RMSNorms, the
     * residual stream, the logits and the state stay float32. On a CPU every product of more than
     * one row (prefill, batched decode) keeps the float32 weights, since libtorch's CPU float16
     * matrix-matrix product can be a naive loop; on a GPU all inference products use the copies.
     * Training never does. The float32 weights stay: the model holds both (for a 125m model 438 MB
     * + 219 MB).
     *
     * <p>{@link Precision#FLOAT32} (the default) releases the copies; results are then exactly
     * those of a model that never had them. The copies are taken from the current weights: set the
     * precision again after loading or training. Not to be called while a forward pass runs.
     *
     * @param precision the precision
     * @throws IllegalStateException if the model is not initialized (no weights to copy)
     */
    public void setPrecision(Precision precision) {
        Objects.requireNonNull(precision, "precision");
        if (!isInitialized()) {
            throw new IllegalStateException(
                    "CausalLm is not initialized: load or initialize its weights first");
        }
        NDArray old = halfHead;
        halfHead = null;
        if (old != null) {
            old.close();
        }
        for (ResidualBlock block : blocks) {
            block.setPrecision(precision);
        }
        if (precision == Precision.FLOAT16) {
            halfHead = HalfProducts.copy((head == null ? embedding : head).getArray());
        }
        this.precision = precision;
    }

    /**
     * Returns the precision the model infers in.
     *
     * @return {@link Precision#FLOAT32} unless {@link #setPrecision} chose another
     */
    public Precision getPrecision() {
        return precision;
    }

    /**
     * Runs the model on a chunk of tokens, continuing a state.
     *
     * @param ps the parameter store
     * @param ids token ids {@code (B, T)}, int64
     * @param state the state before the chunk, or {@code null} to start
     * @param training whether autograd records
     * @return the logits {@code (B, T, V)} and the state after the chunk
     */
    public Output prefill(ParameterStore ps, NDArray ids, LmState state, boolean training) {
        return run(ps, ids, state, new Pass(training, true, false, null));
    }

    /**
     * Runs the model on a chunk of tokens for generation: as {@link #prefill} with {@code training}
     * false, but with the logits of the chunk's last position only, the next token's. The head's
     * product for the other positions is skipped: {@code 2·V·C} FLOP per token, about a sixth of a
     * 125m model's prefill, and a {@code (B, T, V)} array (250 MiB for 2048 tokens of a 32000-token
     * vocabulary).
     *
     * @param ps the parameter store
     * @param ids token ids {@code (B, T)}, int64
     * @param state the state before the chunk, or {@code null} to start
     * @return the logits {@code (B, 1, V)} and the state after the chunk
     */
    public Output prefillLast(ParameterStore ps, NDArray ids, LmState state) {
        return run(ps, ids, state, new Pass(false, true, true, null));
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray ids = inputs.head();
        boolean lastOnly = lastOnly(params);
        if (inputs.size() == 1) {
            Pass pass = new Pass(training, false, lastOnly, InnerLossRecorder.from(params));
            return new NDList(run(ps, ids, null, pass).logits());
        }
        LmState state = LmState.fromNDList(inputs.subNDList(1), this);
        Output out = run(ps, ids, state, new Pass(training, true, lastOnly, null));
        NDList result = new NDList(out.logits());
        result.addAll(out.state().toNDList(ids.getManager()));
        Scopes.closeAllBut(out.state().arrays(), result);
        return result;
    }

    /** Whether the forward-pass options ask for the last position's logits only. */
    private static boolean lastOnly(PairList<String, Object> params) {
        Object value = params == null ? null : params.get(LOGITS);
        if (value == null || "all".equals(value)) {
            return false;
        }
        if (LAST.equals(value)) {
            return true;
        }
        throw new IllegalArgumentException(
                "option '" + LOGITS + "' must be 'all' or 'last', got '" + value + "'");
    }

    /**
     * A pass's settings: training mode, whether it returns the state, last-position logits, and
     * where the TTT layers' inner-loss statistics go (stateless passes only; {@code null}: not
     * measured).
     */
    private record Pass(
            boolean training, boolean keepState, boolean lastOnly, InnerLossRecorder innerLoss) {

        /** The sequence layers' forward-pass options. */
        PairList<String, Object> layerParams() {
            return innerLoss == null ? null : innerLoss.asParams();
        }
    }

    private Output run(ParameterStore ps, NDArray ids, LmState state, Pass pass) {
        validate(ids, state);
        if (ids.getShape().get(1) == 1) {
            // a decode step is small ops and matrix-vector products: the scan's thread count
            return ScanThreads.run(ids, () -> blocks(ps, ids, state, pass));
        }
        return blocks(ps, ids, state, pass);
    }

    /** Embedding, the residual blocks, the final norm and the head. */
    private Output blocks(ParameterStore ps, NDArray ids, LmState state, Pass pass) {
        boolean training = pass.training();
        return Scopes.run(
                ids.getManager(),
                () -> {
                    NDArray e = ps.getValue(embedding, ids.getDevice(), training);
                    NDArray h = Embedding.embedding(ids, e, SparseFormat.DENSE).head();
                    List<ResidualBlock.State> states = new ArrayList<>();
                    for (int i = 0; i < blocks.size(); i++) {
                        ResidualBlock.Output out =
                                blocks.get(i)
                                        .run(
                                                ps,
                                                h,
                                                state == null ? null : state.block(i),
                                                training,
                                                pass.keepState(),
                                                pass.layerParams());
                        h = out.hidden();
                        states.add(out.state());
                    }
                    if (pass.lastOnly() && ids.getShape().get(1) > 1) {
                        h = h.get(":, -1:"); // the norm and the head act on each position alone
                    }
                    h = norm.forward(ps, new NDList(h), training).head();
                    NDArray w = head == null ? e : ps.getValue(head, ids.getDevice(), training);
                    NDArray half = halfHead;
                    // a decode step's largest matrix-vector product (see ScanThreads.product)
                    NDArray logits =
                            half != null && HalfProducts.applies(h, training)
                                    ? ScanThreads.product(HalfProducts.toHalf(h), half)
                                            .toType(h.getDataType(), false)
                                    : ScanThreads.product(h, w);
                    if (!pass.keepState()) {
                        return new Output(logits, null);
                    }
                    long[] positions =
                            state == null
                                    ? new long[(int) ids.getShape().get(0)]
                                    : state.getPositions();
                    for (int i = 0; i < positions.length; i++) {
                        positions[i] += ids.getShape().get(1);
                    }
                    return new Output(logits, new LmState(positions, states));
                },
                out -> {
                    List<NDArray> kept = new ArrayList<>();
                    kept.add(out.logits());
                    if (out.state() != null) {
                        kept.addAll(out.state().arrays());
                    }
                    return kept;
                });
    }

    private void validate(NDArray ids, LmState state) {
        Shape s = ids.getShape();
        if (s.dimension() != 2 || s.get(0) < 1 || s.get(1) < 1) {
            throw new IllegalArgumentException(
                    "CausalLm expects token ids (B, T) with B, T >= 1, got shape " + s);
        }
        if (ids.getDataType() != DataType.INT64 && ids.getDataType() != DataType.INT32) {
            throw new IllegalArgumentException(
                    "token ids must be int64 or int32, got " + ids.getDataType());
        }
        try (NDArray min = ids.min();
                NDArray max = ids.max()) {
            long lo = min.toType(DataType.INT64, false).getLong();
            long hi = max.toType(DataType.INT64, false).getLong();
            if (lo < 0 || hi >= config.getVocabSize()) {
                throw new IllegalArgumentException(
                        "token ids must be in [0, vocab_size="
                                + config.getVocabSize()
                                + "), got values in ["
                                + lo
                                + ", "
                                + hi
                                + "]");
            }
        }
        if (state != null) {
            LayerState.checkBatchSize(state.getBatchSize(), s);
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
        Precision.requireEngineType(dataType, "CausalLm's data type");
        super.initialize(manager, dataType, inputShapes);
    }

    /**
     * {@inheritDoc}
     *
     * <p>Refuses bfloat16 and non-float types as {@link #initialize} does, before any cast.
     */
    @Override
    public void cast(DataType dataType) {
        Precision.requireEngineType(dataType, "CausalLm's data type");
        super.cast(dataType);
    }

    /** {@inheritDoc} */
    @Override
    protected void initializeChildBlocks(
            NDManager manager, DataType dataType, Shape... inputShapes) {
        Shape ids = inputShapes[0];
        Shape hidden = new Shape(ids.get(0), ids.get(1), config.getHiddenSize());
        for (ResidualBlock block : blocks) {
            block.initialize(manager, dataType, hidden);
        }
        norm.initialize(manager, dataType, hidden);
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape ids = inputShapes[0];
        return new Shape[] {new Shape(ids.get(0), ids.get(1), config.getVocabSize())};
    }

    /** {@inheritDoc} */
    @Override
    protected void saveMetadata(DataOutputStream os) throws IOException {
        saveInputShapes(os);
        os.writeUTF(config.toJson());
    }

    /**
     * {@inheritDoc}
     *
     * <p>A stream that ends early or holds bytes that are not DJL arrays is a {@link
     * MalformedModelException} that says the weights are corrupt or truncated, on every path that
     * loads this block ({@code ModelDirectory}, the zoo, {@code Criteria.optModelPath}), instead of
     * a bare {@code EOFException}.
     */
    @Override
    public void loadParameters(NDManager manager, DataInputStream is)
            throws IOException, MalformedModelException {
        try {
            super.loadParameters(manager, is);
        } catch (IOException | RuntimeException | OutOfMemoryError e) {
            // OutOfMemoryError: a length field that asks for more than the heap (ModelDirectory
            // and TttBlockFactory check the file's lengths before; this is the last guard)
            throw new MalformedModelException(
                    "the weights are corrupt or truncated (" + describe(e) + ")", e);
        }
    }

    private static String describe(Throwable e) {
        if (e instanceof java.io.EOFException) {
            return "the file ends before every parameter was read";
        }
        String message = e.getMessage();
        return e.getClass().getSimpleName()
                + (message == null ? "" : ": " + ai.djl.ttt.runtime.BoundedText.of(message));
    }

    /** {@inheritDoc} */
    @Override
    public void loadMetadata(byte loadVersion, DataInputStream is)
            throws IOException, MalformedModelException {
        if (loadVersion != VERSION) {
            throw new MalformedModelException(
                    "Unsupported encoding version of CausalLm: "
                            + loadVersion
                            + " (this build reads "
                            + VERSION
                            + ")");
        }
        readInputShapes(is);
        config.requireSameAs(is.readUTF(), "CausalLm");
    }

    /**
     * The model's output on a chunk.
     *
     * @param logits {@code (B, T, V)}
     * @param state the state after the chunk, or {@code null} if not asked for
     */
    public record Output(NDArray logits, LmState state) {}
}
