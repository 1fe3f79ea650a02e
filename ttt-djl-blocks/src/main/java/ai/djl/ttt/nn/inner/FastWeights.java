package ai.djl.ttt.nn.inner;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import java.util.function.UnaryOperator;

/**
 * The hidden state of a TTT layer: the weights of the inner model, one copy per sequence and head,
 * as they stand at the last completed mini-batch boundary, plus the learning-rate-weighted sum of
 * the gradients of the tokens read since then (reference.md §3).
 *
 * <p>Layout. Heads are folded into the batch ({@code N = B·H}, row {@code b·H + h}), and each dense
 * layer {@code l} of the inner model keeps its bias as an extra last row of its weight — the
 * homogeneous form {@code [X, 1] · [W; b] = X W + b}:
 *
 * <pre>
 * TTT-Linear: W1 with b1 appended  (N, f + 1, f)
 * TTT-MLP:    W1 with b1 appended  (N, f + 1, 4f),   W2 with b2 appended  (N, 4f + 1, f)
 * </pre>
 *
 * One matrix product then applies weight and bias, and one updates both, which halves the work of
 * each inner step. The pending gradients have the same shapes; they are {@code null} at a
 * mini-batch boundary, where they are zero. Instances are immutable values.
 *
 * <p>Token by token (decoding), the pending gradient grows by one rank-1 term {@code X_jᵀ (lr_j
 * G_j)} per token. Such terms are kept as factors — the inputs {@code (N, j, f_in + 1)} and the
 * scaled gradients {@code (N, j, f_out)} of the {@code j} tokens so far — on top of an optional
 * full sum from before (a prefill that ended inside a mini-batch): a decode step then reads {@code
 * j} rows instead of writing a new {@code (N, f_in + 1, f_out)} sum ({@link #pendingGradient} forms
 * it when needed).
 */
public final class FastWeights {

    private final NDArray[] layers;
    private final NDArray[] pending;
    private final NDArray[] tokenInputs;
    private final NDArray[] tokenGradients;

    /**
     * Creates the state.
     *
     * @param layers each dense layer's weight with its bias as the last row
     * @param pending the same shapes, or {@code null} when no token of the current mini-batch has
     *     been read
     */
    public FastWeights(NDArray[] layers, NDArray[] pending) {
        this(layers, pending, null, null);
    }

    private FastWeights(
            NDArray[] layers, NDArray[] pending, NDArray[] tokenInputs, NDArray[] tokenGradients) {
        if (pending != null && pending.length != layers.length) {
            throw new IllegalArgumentException(
                    "expected " + layers.length + " pending gradients, got " + pending.length);
        }
        if ((tokenInputs == null) != (tokenGradients == null)
                || (tokenInputs != null
                        && (tokenInputs.length != layers.length
                                || tokenGradients.length != layers.length))) {
            throw new IllegalArgumentException(
                    "token terms need inputs and gradients for each of the "
                            + layers.length
                            + " layers");
        }
        this.layers = layers.clone();
        this.pending = pending == null ? null : pending.clone();
        this.tokenInputs = tokenInputs == null ? null : tokenInputs.clone();
        this.tokenGradients = tokenGradients == null ? null : tokenGradients.clone();
    }

    /**
     * Returns the number of dense layers of the inner model (1 for TTT-Linear, 2 for TTT-MLP).
     *
     * @return the depth
     */
    public int depth() {
        return layers.length;
    }

    /**
     * Returns dense layer {@code l}: its weight with its bias as the last row.
     *
     * @param l the layer, from 0
     * @return {@code (N, f_in + 1, f_out)}
     */
    public NDArray layer(int l) {
        return layers[l];
    }

    /**
     * Returns the same weights with other pending gradients.
     *
     * @param pendingGradients one per layer, or {@code null} for none
     * @return the state
     */
    public FastWeights withPending(NDArray[] pendingGradients) {
        return new FastWeights(layers, pendingGradients);
    }

    /**
     * Returns the same weights with a pending gradient that is a full sum (or none) plus rank-1
     * terms kept as factors: {@code pendingSums_l + tokenInputs_lᵀ tokenGradients_l}.
     *
     * @param pendingSums the full part per layer, or {@code null}
     * @param tokenInputs per layer, the tokens' inputs {@code (N, j, f_in + 1)}
     * @param tokenGradients per layer, the tokens' scaled gradients {@code (N, j, f_out)}
     * @return the state
     */
    public FastWeights withPending(
            NDArray[] pendingSums, NDArray[] tokenInputs, NDArray[] tokenGradients) {
        return new FastWeights(layers, pendingSums, tokenInputs, tokenGradients);
    }

    /**
     * Returns whether gradients of an incomplete mini-batch are pending.
     *
     * @return true between mini-batch boundaries
     */
    public boolean hasPendingGradients() {
        return pending != null || tokenInputs != null;
    }

    /**
     * Returns whether part of the pending gradient is kept as per-token factors ({@link
     * #tokenInputs}, {@link #tokenGradients}).
     *
     * @return true after decoded tokens of an incomplete mini-batch
     */
    public boolean hasTokenTerms() {
        return tokenInputs != null;
    }

    /**
     * Returns the pending gradient of dense layer {@code l}, formed from its parts if some are kept
     * as factors (then a new array, owned by the caller).
     *
     * @param l the layer, from 0
     * @return {@code Σ_j lr_j [X_j, 1]ᵀ G_j}, {@code (N, f_in + 1, f_out)}
     */
    public NDArray pendingGradient(int l) {
        if (tokenInputs == null) {
            return pending[l];
        }
        NDArray terms;
        try (NDArray transposed = tokenInputs[l].transpose(0, 2, 1)) {
            terms = transposed.matMul(tokenGradients[l]);
        }
        if (pending == null) {
            return terms;
        }
        try (terms) {
            return pending[l].add(terms);
        }
    }

    /**
     * Returns the full part of the pending gradient of dense layer {@code l}, without the terms
     * kept as factors.
     *
     * @param l the layer, from 0
     * @return the full sum, or {@code null} if there is none
     */
    public NDArray pendingSum(int l) {
        return pending == null ? null : pending[l];
    }

    /**
     * Returns the inputs of the tokens whose gradient terms are kept as factors.
     *
     * @param l the layer, from 0
     * @return {@code (N, j, f_in + 1)}, or {@code null}
     */
    public NDArray tokenInputs(int l) {
        return tokenInputs == null ? null : tokenInputs[l];
    }

    /**
     * Returns the scaled gradients {@code lr G} of the tokens whose terms are kept as factors.
     *
     * @param l the layer, from 0
     * @return {@code (N, j, f_out)}, or {@code null}
     */
    public NDArray tokenGradients(int l) {
        return tokenGradients == null ? null : tokenGradients[l];
    }

    /**
     * Returns the same weights without pending gradients (valid at a mini-batch boundary, where
     * they are zero).
     *
     * @return the state
     */
    public FastWeights withoutPendingGradients() {
        return hasPendingGradients() ? new FastWeights(layers, null) : this;
    }

    /**
     * Returns the same structure with every array replaced.
     *
     * @param f the replacement of each array
     * @return the state
     */
    public FastWeights map(UnaryOperator<NDArray> f) {
        return new FastWeights(
                apply(layers, f),
                apply(pending, f),
                apply(tokenInputs, f),
                apply(tokenGradients, f));
    }

    private static NDArray[] apply(NDArray[] arrays, UnaryOperator<NDArray> f) {
        return arrays == null ? null : Arrays.stream(arrays).map(f).toArray(NDArray[]::new);
    }

    /**
     * Returns the state of rows {@code [from, to)} of the folded batch (views, no copy).
     *
     * @param from the first row
     * @param to one past the last row
     * @return the rows' state
     */
    public FastWeights rows(long from, long to) {
        NDIndex index = new NDIndex().addSliceDim(from, to);
        return map(a -> a.get(index));
    }

    /**
     * Stacks the states of consecutive row ranges back into one state.
     *
     * @param parts the states of rows {@code [0, a), [a, b), …}, all with the same pending parts
     *     (none, a full sum, token terms of the same count, or both)
     * @return the whole state
     */
    public static FastWeights concatRows(List<FastWeights> parts) {
        FastWeights first = parts.get(0);
        for (FastWeights part : parts) {
            boolean sameTerms =
                    part.hasTokenTerms()
                            ? first.hasTokenTerms()
                                    && part.tokenInputs[0].getShape().get(1)
                                            == first.tokenInputs[0].getShape().get(1)
                            : !first.hasTokenTerms();
            if ((part.pending == null) != (first.pending == null) || !sameTerms) {
                throw new IllegalArgumentException(
                        "row ranges of one state must have the same pending parts");
            }
        }
        return new FastWeights(
                concatRows(parts, w -> w.layers),
                first.pending == null ? null : concatRows(parts, w -> w.pending),
                first.tokenInputs == null ? null : concatRows(parts, w -> w.tokenInputs),
                first.tokenGradients == null ? null : concatRows(parts, w -> w.tokenGradients));
    }

    private static NDArray[] concatRows(
            List<FastWeights> parts, Function<FastWeights, NDArray[]> family) {
        int depth = parts.get(0).depth();
        NDArray[] joined = new NDArray[depth];
        for (int i = 0; i < depth; i++) {
            NDList rows = new NDList();
            for (FastWeights part : parts) {
                rows.add(family.apply(part)[i]);
            }
            joined[i] = NDArrays.concat(rows, 0);
        }
        return joined;
    }

    /**
     * Returns every array of this state: the layers, then the pending gradients' parts if any.
     *
     * @return the arrays
     */
    public NDArray[] arrays() {
        List<NDArray> all = new ArrayList<>(Arrays.asList(layers));
        for (NDArray[] family : new NDArray[][] {pending, tokenInputs, tokenGradients}) {
            if (family != null) {
                all.addAll(Arrays.asList(family));
            }
        }
        return all.toArray(new NDArray[0]);
    }
}
