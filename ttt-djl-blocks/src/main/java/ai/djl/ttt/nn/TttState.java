package ai.djl.ttt.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ttt.nn.inner.FastWeights;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * The recurrent state of one TTT layer between calls: what a caller keeps to prefill a prompt in
 * chunks and then decode one token at a time (reference.md §3). Its size does not grow with the
 * sequence.
 *
 * <ul>
 *   <li>{@code positions}: the absolute position of the next token, per batch row;
 *   <li>the inner weights at the last mini-batch boundary and the learning-rate-weighted gradient
 *       sum of the tokens read since ({@link FastWeights}: heads folded into the batch, biases as a
 *       last row, {@code (B·H, f_in + 1, f_out)} per dense layer);
 *   <li>the window of the shared-QK causal convolutions, {@code (B, C, k − 1)}, if the layer has
 *       them.
 * </ul>
 *
 * <p>A state is an immutable value: {@link TttLayer#prefill} returns a new one and leaves the old
 * one valid. In DJL's {@code NDList} protocol it travels as {@link #toNDList}: {@code [positions
 * (B) int64, [W1; b1][, [W2; b2]], pending gradients of the same shapes[, window]]}; a fresh state
 * is just {@code [positions]} (all zero). Inside, the gradient terms of decoded tokens are kept as
 * factors ({@link FastWeights}); the list carries their full sums.
 */
public final class TttState implements LayerState {

    private final long[] positions;
    private final FastWeights weights;
    private final NDArray convWindow;

    TttState(long[] positions, FastWeights weights, NDArray convWindow) {
        this.positions = positions.clone();
        this.weights = weights;
        this.convWindow = convWindow;
    }

    /**
     * Returns the state before the first token: the layer's learned initial weights, position 0.
     *
     * @param batchSize B
     * @return the fresh state
     */
    public static TttState start(int batchSize) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
        }
        return new TttState(new long[batchSize], null, null);
    }

    /**
     * Stacks the states of separate sequences into one batch, for instance prompts prefilled one by
     * one and then decoded together; the rows keep their own positions.
     *
     * @param states states of the same layer, each after at least one token
     * @return the batch state (new arrays; the inputs stay valid)
     * @throws IllegalArgumentException if a state is fresh or the states' layouts differ
     */
    public static TttState concat(List<TttState> states) {
        if (states.isEmpty()) {
            throw new IllegalArgumentException("nothing to concatenate");
        }
        List<NDList> lists = new ArrayList<>();
        for (TttState state : states) {
            if (state.weights == null) {
                throw new IllegalArgumentException(
                        "a fresh state has no arrays to concatenate: prefill each sequence first,"
                                + " or start the whole batch with TttState.start(B)");
            }
            lists.add(state.toNDList(state.weights.layer(0).getManager()));
        }
        int size = lists.get(0).size();
        NDList merged = new NDList();
        for (int i = 0; i < size; i++) {
            NDList column = new NDList();
            for (NDList list : lists) {
                if (list.size() != size) {
                    throw new IllegalArgumentException(
                            "states of different layers: "
                                    + size
                                    + " vs "
                                    + list.size()
                                    + " arrays");
                }
                column.add(list.get(i));
            }
            merged.add(NDArrays.concat(column, 0));
        }
        int inner = states.get(0).weights.depth();
        for (int s = 0; s < states.size(); s++) {
            // close what toNDList created: the positions and zero or formed gradients
            lists.get(s).get(0).close();
            FastWeights w = states.get(s).weights;
            if (!w.hasPendingGradients() || w.hasTokenTerms()) {
                for (int i = 1 + inner; i < 1 + 2 * inner; i++) {
                    lists.get(s).get(i).close();
                }
            }
        }
        return fromNDList(merged, inner, states.get(0).convWindow != null);
    }

    /**
     * Rebuilds a state from its {@link #toNDList} form.
     *
     * @param list the arrays
     * @param depth the number of dense layers of the inner model (1 for TTT-Linear, 2 for TTT-MLP)
     * @param hasConvWindow whether the layer has shared-QK convolutions
     * @return the state
     * @throws IllegalArgumentException if the list does not have the layout of such a layer's state
     */
    public static TttState fromNDList(NDList list, int depth, boolean hasConvWindow) {
        if (list.isEmpty() || list.get(0).getDataType() != DataType.INT64) {
            throw new IllegalArgumentException(
                    "a TTT state starts with the positions, an int64 array (B); got "
                            + (list.isEmpty() ? "nothing" : list.get(0).getDataType()));
        }
        long[] positions = list.get(0).toLongArray();
        if (list.size() == 1) {
            if (Arrays.stream(positions).anyMatch(p -> p != 0)) {
                throw new IllegalArgumentException(
                        "a state without inner weights must be at position 0, got positions "
                                + Arrays.toString(positions));
            }
            return new TttState(positions, null, null);
        }
        int expected = 1 + 2 * depth + (hasConvWindow ? 1 : 0);
        if (list.size() != expected) {
            throw new IllegalArgumentException(
                    "expected a TTT state of "
                            + expected
                            + " arrays (positions, "
                            + depth
                            + " inner layers, "
                            + depth
                            + " pending gradients"
                            + (hasConvWindow ? ", conv window" : "")
                            + "), got "
                            + list.size());
        }
        NDArray[] weights = new NDArray[depth];
        NDArray[] gradients = new NDArray[depth];
        for (int i = 0; i < depth; i++) {
            weights[i] = list.get(1 + i);
            gradients[i] = list.get(1 + depth + i);
        }
        NDArray window = hasConvWindow ? list.get(expected - 1) : null;
        return new TttState(positions, new FastWeights(weights, gradients), window);
    }

    /**
     * {@inheritDoc}
     *
     * <p>See the class documentation for the layout.
     */
    @Override
    public NDList toNDList(NDManager manager) {
        NDList list = new NDList(manager.create(positions));
        if (weights == null) {
            return list;
        }
        for (int l = 0; l < weights.depth(); l++) {
            list.add(weights.layer(l));
        }
        for (int l = 0; l < weights.depth(); l++) {
            if (weights.hasTokenTerms()) {
                // decoded tokens' terms are kept as factors: the full sum is formed for the list
                NDArray formed = weights.pendingGradient(l);
                formed.attach(manager);
                list.add(formed);
            } else {
                list.add(
                        weights.hasPendingGradients()
                                ? weights.pendingGradient(l)
                                : weights.layer(l).zerosLike());
            }
        }
        if (convWindow != null) {
            list.add(convWindow);
        }
        return list;
    }

    /** {@inheritDoc} */
    @Override
    public long[] getPositions() {
        return positions.clone();
    }

    /**
     * Returns whether every row is at the same position (required to feed more than one token).
     *
     * @return true if the positions are equal
     */
    public boolean isAligned() {
        return Arrays.stream(positions).allMatch(p -> p == positions[0]);
    }

    /**
     * Returns the inner weights and pending gradients.
     *
     * @return the fast weights, or {@code null} for a fresh state (the layer's initial weights)
     */
    public FastWeights getWeights() {
        return weights;
    }

    /**
     * Returns the window of the shared-QK convolutions.
     *
     * @return {@code (B, C, k − 1)}, or {@code null} (fresh state, or no convolutions)
     */
    public NDArray getConvWindow() {
        return convWindow;
    }

    /** {@inheritDoc} */
    @Override
    public List<NDArray> arrays() {
        List<NDArray> arrays = new ArrayList<>();
        if (weights != null) {
            Collections.addAll(arrays, weights.arrays());
        }
        if (convWindow != null) {
            arrays.add(convWindow);
        }
        return arrays;
    }

    /** Closes the arrays of this state. */
    @Override
    public void close() {
        arrays().forEach(NDArray::close);
    }
}
