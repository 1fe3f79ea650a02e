package ai.djl.ttt.baselines;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.training.ParameterStore;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.nn.SequenceLayer;
import ai.djl.ttt.nn.inner.Constants;
import ai.djl.ttt.nn.inner.Rope;
import ai.djl.ttt.runtime.Scopes;
import ai.djl.util.PairList;
import java.util.List;

/**
 * Plain causal linear attention, the first row of the paper's Table 1: TTT-Linear whose inner model
 * starts from {@code W₀ = 0} and is trained by <em>batch</em> gradient descent (every gradient
 * taken at {@code W₀}) with a fixed rate and no inner LayerNorm or residual. Then the inner loss
 * {@code ½‖k W − v‖²} has gradient {@code −kᵀ v} at {@code W₀ = 0}, so {@code W_t = η Σ_{s≤t} k_sᵀ
 * v_s} and the output is {@code z_t = q_t W_t} (paper §2.6; reference.md §1.4 with these choices).
 *
 * <p>Per head, with {@code η = 1/f}: {@code Z = (Q Kᵀ ⊙ M) V / f} (M the causal mask) plus {@code Q
 * S / f} for the sum {@code S} of {@code kᵀ v} over earlier tokens, computed in blocks of 64 tokens
 * so that the cost is linear in T. Q and K get RoPE at absolute positions (TTT's RoPE with period b
 * = T, as batch GD makes the whole sequence one mini-batch). As in the TTT layers, the merged heads
 * go through {@code post_norm} (LayerNorm over C) and {@code o_proj}. Children {@code q_proj,
 * k_proj, v_proj, o_proj} ({@code (C, C)}, no bias) and {@code post_norm}. Input and output {@code
 * (B, T, C)}; the state ({@link LinearAttentionState}) has a fixed size.
 *
 * <p>It is ttt-djl's baseline for the long-context experiments, not an official layer: it isolates
 * what TTT's mini-batch gradient steps, inner LayerNorm, residual and learned {@code W₀} and η add.
 */
public final class LinearAttention extends AbstractBlock
        implements SequenceLayer<LinearAttentionState> {

    private static final byte VERSION = 1;
    private static final float POST_NORM_EPS = 1e-6f;

    /** Tokens per block of the chunked form: square products inside, running sums across. */
    private static final int BLOCK = 64;

    private final int heads;
    private final int headDim;
    private final double ropeTheta;
    private final Linear query;
    private final Linear key;
    private final Linear value;
    private final Linear output;
    private final LayerNorm postNorm;

    /**
     * Creates the layer from the model config (hidden size, heads, RoPE θ, initializer range).
     *
     * @param config the config
     */
    public LinearAttention(TttConfig config) {
        super(VERSION);
        heads = config.getNumAttentionHeads();
        headDim = config.getHeadDim();
        ropeTheta = config.getRopeTheta();
        query = addChildBlock("q_proj", Projections.create(config));
        key = addChildBlock("k_proj", Projections.create(config));
        value = addChildBlock("v_proj", Projections.create(config));
        output = addChildBlock("o_proj", Projections.create(config));
        postNorm =
                addChildBlock(
                        "post_norm", LayerNorm.builder().axis(2).optEpsilon(POST_NORM_EPS).build());
    }

    /** {@inheritDoc} */
    @Override
    public Output<LinearAttentionState> prefill(
            ParameterStore ps, NDArray x, LinearAttentionState state, boolean training) {
        return run(ps, x, state, training, true);
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray x = inputs.head();
        if (inputs.size() == 1) {
            return new NDList(run(ps, x, null, training, false).output());
        }
        Output<LinearAttentionState> out =
                run(ps, x, stateFromNDList(inputs.subNDList(1)), training, true);
        NDList result = new NDList(out.output());
        result.addAll(out.state().toNDList(x.getManager()));
        return result;
    }

    private Output<LinearAttentionState> run(
            ParameterStore ps,
            NDArray x,
            LinearAttentionState state,
            boolean training,
            boolean keepState) {
        Projections.check("LinearAttention", x, heads * headDim, state);
        Shape s = x.getShape();
        int batch = (int) s.get(0);
        int length = (int) s.get(1);
        LinearAttentionState before =
                state == null ? new LinearAttentionState(new long[batch], null) : state;
        long[] positions = before.getPositions();
        return Scopes.run(
                x.getManager(),
                () -> {
                    NDList in = new NDList(x);
                    NDArray[] rotary =
                            Rope.tables(
                                    x.getManager(),
                                    x,
                                    positions,
                                    length,
                                    headDim,
                                    Long.MAX_VALUE,
                                    ropeTheta);
                    // (B, H, T, f); η = 1/f folded into the queries
                    NDArray q =
                            Constants.times(
                                    Projections.project(ps, query, in, training, heads, rotary),
                                    1.0 / headDim);
                    NDArray k = Projections.project(ps, key, in, training, heads, rotary);
                    NDArray v = Projections.project(ps, value, in, training, heads, null);
                    Attended attended = attend(q, k, v, before.getSum());
                    NDArray y = Projections.swapHeadsAndTime(attended.z()).reshape(s);
                    y = postNorm.forward(ps, new NDList(y), training).head();
                    y = output.forward(ps, new NDList(y), training).head();
                    if (!keepState) {
                        return new Output<LinearAttentionState>(y, null);
                    }
                    NDArray sum = attended.sum();
                    long[] next = positions.clone();
                    for (int i = 0; i < next.length; i++) {
                        next[i] += length;
                    }
                    return new Output<>(y, new LinearAttentionState(next, sum));
                },
                out ->
                        out.state() == null
                                ? List.of(out.output())
                                : List.of(out.output(), out.state().getSum()));
    }

    /**
     * {@code Z = (Q Kᵀ ⊙ M) V + Q S} over blocks of {@value #BLOCK} tokens, all blocks at once: the
     * square products stay inside a block and each block reads the sum of {@code kᵀ v} over the
     * blocks before it (an exclusive cumulative sum), so the cost is linear in T.
     *
     * @param q the queries, already scaled by η, {@code (B, H, T, f)}
     * @param k the keys {@code (B, H, T, f)}
     * @param v the values {@code (B, H, T, f)}
     * @param carried {@code S} from earlier chunks {@code (B, H, f, f)}, or {@code null}
     * @return {@code Z} {@code (B, H, T, f)} and the sum after the chunk
     */
    private static Attended attend(NDArray q, NDArray k, NDArray v, NDArray carried) {
        Shape s = q.getShape();
        long length = s.get(2);
        if (length <= BLOCK) {
            NDArray z = causalProducts(q, k).matMul(v);
            NDArray added = k.swapAxes(-1, -2).matMul(v); // Σ_s k_sᵀ v_s
            if (carried == null) {
                return new Attended(z, added);
            }
            return new Attended(z.add(q.matMul(carried)), carried.add(added));
        }
        long blocks = (length + BLOCK - 1) / BLOCK;
        // zero keys and values past the end add nothing; the padded queries' rows are dropped
        Shape padding = new Shape(0, 0, 0, blocks * BLOCK - length);
        Shape blocked = new Shape(s.get(0), s.get(1), blocks, BLOCK, s.get(3));
        NDArray qb = q.pad(padding, 0).reshape(blocked);
        NDArray kb = k.pad(padding, 0).reshape(blocked);
        NDArray vb = v.pad(padding, 0).reshape(blocked);
        NDArray perBlock = kb.swapAxes(-1, -2).matMul(vb); // (B, H, n, f, f)
        NDArray through = perBlock.cumSum(2);
        NDArray before = through.sub(perBlock);
        if (carried != null) {
            before = before.add(carried.expandDims(2));
        }
        NDArray z = causalProducts(qb, kb).matMul(vb).add(qb.matMul(before));
        z = z.reshape(s.get(0), s.get(1), blocks * BLOCK, s.get(3));
        if (blocks * BLOCK != length) {
            z = z.get(new NDIndex().addAllDim(2).addSliceDim(0, length));
        }
        NDArray total = through.get(new NDIndex().addAllDim(2).addIndices(blocks - 1));
        return new Attended(z, carried == null ? total : carried.add(total));
    }

    /** The outputs of {@link #attend}: {@code Z} and the running sum {@code S}. */
    private record Attended(NDArray z, NDArray sum) {}

    /** {@code Q Kᵀ ⊙ M}: query t sees keys s ≤ t of its block, {@code (…, T, T)}. */
    private static NDArray causalProducts(NDArray q, NDArray k) {
        NDArray scores = q.matMul(k.swapAxes(-1, -2));
        long length = scores.getShape().get(scores.getShape().dimension() - 2);
        NDManager m = q.getManager();
        NDArray mask =
                m.arange(0, length, 1, DataType.INT64)
                        .reshape(1, length)
                        .lte(m.arange(0, length, 1, DataType.INT64).reshape(length, 1))
                        .toType(scores.getDataType(), false);
        return scores.mul(mask);
    }

    /** {@inheritDoc} */
    @Override
    public LinearAttentionState stateFromNDList(NDList list) {
        return LinearAttentionState.fromNDList(list);
    }

    /** {@inheritDoc} */
    @Override
    public int stateArrayCount() {
        return 2;
    }

    /**
     * {@inheritDoc}
     *
     * <p>The four projections ({@code 2TC²} each); per head and block of {@value #BLOCK} tokens,
     * {@code Q Kᵀ} and {@code (·) V} inside the block ({@code 2 × 2T·BLOCK·f}) and the block's
     * {@code Kᵀ V} and {@code Q S} ({@code 2 × 2Tf²}).
     */
    @Override
    public double forwardFlops(long tokens) {
        double t = tokens;
        double c = (double) heads * headDim;
        return 4 * 2 * t * c * c + 4 * t * c * (BLOCK + headDim);
    }

    /** {@inheritDoc} */
    @Override
    public LinearAttentionState concatStates(List<LinearAttentionState> states) {
        return LinearAttentionState.concat(states);
    }

    /**
     * Returns {@code q_proj}.
     *
     * @return the query projection
     */
    public Linear getQueryProjection() {
        return query;
    }

    /**
     * Returns {@code k_proj}.
     *
     * @return the key projection
     */
    public Linear getKeyProjection() {
        return key;
    }

    /**
     * Returns {@code v_proj}.
     *
     * @return the value projection
     */
    public Linear getValueProjection() {
        return value;
    }

    /**
     * Returns {@code o_proj}.
     *
     * @return the output projection
     */
    public Linear getOutputProjection() {
        return output;
    }

    /**
     * Returns {@code post_norm}, the LayerNorm over C applied after the heads are merged.
     *
     * @return the norm
     */
    public LayerNorm getPostNorm() {
        return postNorm;
    }

    /** {@inheritDoc} */
    @Override
    protected void initializeChildBlocks(
            NDManager manager, DataType dataType, Shape... inputShapes) {
        for (Linear l : new Linear[] {query, key, value, output}) {
            l.initialize(manager, dataType, inputShapes[0]);
        }
        postNorm.initialize(manager, dataType, inputShapes[0]);
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }
}
