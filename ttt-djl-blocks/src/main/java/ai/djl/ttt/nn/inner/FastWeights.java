package ai.djl.ttt.nn.inner;

import ai.djl.ndarray.NDArray;
import java.util.Arrays;

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
