package ai.djl.ttt.baselines;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.nn.SequenceLayer;
import ai.djl.ttt.nn.inner.Constants;
import ai.djl.ttt.nn.inner.Rope;
import ai.djl.ttt.runtime.Scopes;
import ai.djl.util.PairList;
import java.util.Arrays;
import java.util.List;

/**
 * The attention baseline: Llama-style causal multi-head self-attention (the "Transformer++" the
 * paper compares with), {@code softmax(Q Kᵀ / √f + causal mask) V}, with RoPE on Q and K at
 * absolute positions (the same pairwise rotation as the TTT layers, without their modulo).
 *
 * <p>Input {@code (B, T, C)}, output {@code (B, T, C)}; children {@code q_proj, k_proj, v_proj,
 * o_proj} ({@code (C, C)}, no bias, N(0, initializer_range)). Its state is a {@link KvCache} that
 * grows by one slot per token: decode cost and memory grow with the context, which is what TTT
 * avoids.
 */
public final class CausalSelfAttention extends AbstractBlock implements SequenceLayer<KvCache> {

    private static final byte VERSION = 1;

    /** Added to the scores of masked positions; large enough to vanish in softmax. */
    private static final double MASKED = -1e9;

    private final int heads;
    private final int headDim;
    private final double ropeTheta;
    private final Linear query;
    private final Linear key;
    private final Linear value;
    private final Linear output;

    /**
     * Creates the layer from the model config (hidden size, heads, RoPE θ, initializer range).
     *
     * @param config the config
     */
    public CausalSelfAttention(TttConfig config) {
        super(VERSION);
        heads = config.getNumAttentionHeads();
        headDim = config.getHeadDim();
        ropeTheta = config.getRopeTheta();
        query = addChildBlock("q_proj", Projections.create(config));
        key = addChildBlock("k_proj", Projections.create(config));
        value = addChildBlock("v_proj", Projections.create(config));
        output = addChildBlock("o_proj", Projections.create(config));
    }

    /** {@inheritDoc} */
    @Override
    public Output<KvCache> prefill(ParameterStore ps, NDArray x, KvCache state, boolean training) {
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
        Output<KvCache> out = run(ps, x, stateFromNDList(inputs.subNDList(1)), training, true);
        NDList result = new NDList(out.output());
        result.addAll(out.state().toNDList(x.getManager()));
        return result;
    }

    private Output<KvCache> run(
            ParameterStore ps, NDArray x, KvCache state, boolean training, boolean keepState) {
        Projections.check("CausalSelfAttention", x, heads * headDim, state);
        Shape s = x.getShape();
        int batch = (int) s.get(0);
        int length = (int) s.get(1);
        KvCache before = state == null ? new KvCache(new long[batch], null, null) : state;
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
                    NDArray q = Projections.project(ps, query, in, training, heads, rotary);
                    NDArray k = Projections.project(ps, key, in, training, heads, rotary);
                    NDArray v = Projections.project(ps, value, in, training, heads, null);
                    NDArray keys = before.getKeys() == null ? k : concat(before.getKeys(), k);
                    NDArray values = before.getValues() == null ? v : concat(before.getValues(), v);

                    NDArray scores =
                            Constants.times(
                                    q.matMul(keys.transpose(0, 1, 3, 2)), 1 / Math.sqrt(headDim));
                    scores = scores.add(mask(x, before.getLength(), length, positions));
                    NDArray mixed = scores.softmax(3).matMul(values); // (B, H, T, f)
                    NDArray y = Projections.swapHeadsAndTime(mixed).reshape(s);
                    y = output.forward(ps, new NDList(y), training).head();
                    if (!keepState) {
                        return new Output<KvCache>(y, null);
                    }
                    long[] next = positions.clone();
                    for (int i = 0; i < next.length; i++) {
                        next[i] += length;
                    }
                    return new Output<>(y, new KvCache(next, keys, values));
                },
                out ->
                        out.state() == null
                                ? List.of(out.output())
                                : List.of(
                                        out.output(),
                                        out.state().getKeys(),
                                        out.state().getValues()));
    }

    /**
     * The additive mask {@code (B or 1, 1, T, L + T)}: query {@code t} (slot {@code L + t}) sees
     * slots up to its own, and not the left padding of rows that hold fewer than L tokens.
     */
    private static NDArray mask(NDArray like, long cached, int length, long[] positions) {
        NDManager m = like.getManager();
        long total = cached + length;
        NDArray slot = m.arange(0, total, 1, DataType.INT64).reshape(1, total);
        NDArray query = m.arange(cached, total, 1, DataType.INT64).reshape(length, 1);
        NDArray allowed = slot.lte(query).expandDims(0); // (1, T, L + T)
        boolean padded = Arrays.stream(positions).anyMatch(p -> p != cached);
        if (padded) {
            long[] firstValid = Arrays.stream(positions).map(p -> cached - p).toArray();
            NDArray valid =
                    slot.expandDims(0).gte(m.create(firstValid).reshape(positions.length, 1, 1));
            allowed = allowed.logicalAnd(valid); // (B, T, L + T)
        }
        return allowed.expandDims(1).toType(like.getDataType(), false).sub(1).mul(-MASKED);
    }

    private static NDArray concat(NDArray cached, NDArray fresh) {
        return NDArrays.concat(new NDList(cached, fresh), 2);
    }

    /** {@inheritDoc} */
    @Override
    public KvCache stateFromNDList(NDList list) {
        return KvCache.fromNDList(list);
    }

    /** {@inheritDoc} */
    @Override
    public int stateArrayCount() {
        return 3;
    }

    /**
     * {@inheritDoc}
     *
     * <p>The four projections ({@code 2TC²} each), {@code Q Kᵀ} and {@code softmax(·) V} over the
     * full {@code T × T} square ({@code 2 × 2T²C}; no causal skipping on CPU).
     */
    @Override
    public double forwardFlops(long tokens) {
        double t = tokens;
        double c = (double) heads * headDim;
        return 4 * 2 * t * c * c + 2 * 2 * t * t * c;
    }

    /** {@inheritDoc} */
    @Override
    public KvCache concatStates(List<KvCache> states) {
        return KvCache.concat(states);
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

    /** {@inheritDoc} */
    @Override
    protected void initializeChildBlocks(
            NDManager manager, DataType dataType, Shape... inputShapes) {
        for (Linear l : new Linear[] {query, key, value, output}) {
            l.initialize(manager, dataType, inputShapes[0]);
        }
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }
}
