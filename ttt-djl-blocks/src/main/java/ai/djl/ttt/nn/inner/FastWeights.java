package ai.djl.ttt.nn.inner;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import java.util.Arrays;
import java.util.List;

/**
 * The hidden state of a TTT layer: the weights of the inner model, one copy per sequence and head,
 * as they stand at the last completed mini-batch boundary, plus the learning-rate-weighted sum of
 * the gradients of the tokens read since then (spec §3).
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
 */
public final class FastWeights {

    private final NDArray[] layers;
    private final NDArray[] pending;

    /**
     * Creates the state.
     *
     * @param layers each dense layer's weight with its bias as the last row
     * @param pending the same shapes, or {@code null} when no token of the current mini-batch has
     *     been read
     */
    public FastWeights(NDArray[] layers, NDArray[] pending) {
        if (pending != null && pending.length != layers.length) {
            throw new IllegalArgumentException(
                    "expected " + layers.length + " pending gradients, got " + pending.length);
        }
        this.layers = layers.clone();
        this.pending = pending == null ? null : pending.clone();
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
     * Returns whether gradients of an incomplete mini-batch are pending.
     *
     * @return true between mini-batch boundaries
     */
    public boolean hasPendingGradients() {
        return pending != null;
    }

    /**
     * Returns the pending gradient of dense layer {@code l}.
     *
     * @param l the layer, from 0
     * @return {@code Σ_j lr_j [X_j, 1]ᵀ G_j}, {@code (N, f_in + 1, f_out)}
     */
    public NDArray pendingGradient(int l) {
        return pending[l];
    }

    /**
     * Returns the same weights without pending gradients (valid at a mini-batch boundary, where
     * they are zero).
     *
     * @return the state
     */
    public FastWeights withoutPendingGradients() {
        return pending == null ? this : new FastWeights(layers, null);
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
        NDArray[] l = new NDArray[layers.length];
        NDArray[] p = pending == null ? null : new NDArray[layers.length];
        for (int i = 0; i < layers.length; i++) {
            l[i] = layers[i].get(index);
            if (p != null) {
                p[i] = pending[i].get(index);
            }
        }
        return new FastWeights(l, p);
    }

    /**
     * Stacks the states of consecutive row ranges back into one state.
     *
     * @param parts the states of rows {@code [0, a), [a, b), …}, all with or all without pending
     *     gradients
     * @return the whole state
     */
    public static FastWeights concatRows(List<FastWeights> parts) {
        int depth = parts.get(0).depth();
        boolean pendingToo = parts.get(0).hasPendingGradients();
        NDArray[] l = new NDArray[depth];
        NDArray[] p = pendingToo ? new NDArray[depth] : null;
        for (int i = 0; i < depth; i++) {
            NDList layerParts = new NDList();
            NDList pendingParts = new NDList();
            for (FastWeights part : parts) {
                layerParts.add(part.layer(i));
                if (pendingToo) {
                    pendingParts.add(part.pendingGradient(i));
                }
            }
            l[i] = NDArrays.concat(layerParts, 0);
            if (pendingToo) {
                p[i] = NDArrays.concat(pendingParts, 0);
            }
        }
        return new FastWeights(l, p);
    }

    /**
     * Returns every array of this state: the layers, then the pending gradients if any.
     *
     * @return the arrays
     */
    public NDArray[] arrays() {
        if (pending == null) {
            return layers.clone();
        }
        NDArray[] all = Arrays.copyOf(layers, layers.length * 2);
        System.arraycopy(pending, 0, all, layers.length, layers.length);
        return all;
    }
}
