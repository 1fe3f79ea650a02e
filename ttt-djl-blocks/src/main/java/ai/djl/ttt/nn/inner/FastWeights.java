package ai.djl.ttt.nn.inner;

import ai.djl.ndarray.NDArray;
import java.util.Arrays;
import java.util.List;

/**
 * The hidden state of a TTT layer: the weights of the inner model, one copy per sequence and head,
 * as they stand at the last completed mini-batch boundary, plus the learning-rate-weighted sum of
 * the gradients of the tokens read since then (spec §3).
 *
 * <p>For the inner model's dense layer {@code l} the weight is {@code (B, H, f_in, f_out)} and the
 * bias {@code (B, H, 1, f_out)}; TTT-Linear has one dense layer ({@code W1, b1}), TTT-MLP two
 * ({@code W1, b1, W2, b2}). The pending gradients have the same shapes; they are {@code null} at a
 * mini-batch boundary, where they are zero.
 *
 * <p>Instances are immutable values; a step returns a new one.
 */
public final class FastWeights {

    private final NDArray[] weights;
    private final NDArray[] pendingGradients;

    /**
     * Creates the state.
     *
     * @param weights {@code W1, b1[, W2, b2]}
     * @param pendingGradients the same shapes, or {@code null} when no token of the current
     *     mini-batch has been read
     */
    public FastWeights(NDArray[] weights, NDArray[] pendingGradients) {
        if (pendingGradients != null && pendingGradients.length != weights.length) {
            throw new IllegalArgumentException(
                    "expected "
                            + weights.length
                            + " pending gradients, got "
                            + pendingGradients.length);
        }
        this.weights = weights.clone();
        this.pendingGradients = pendingGradients == null ? null : pendingGradients.clone();
    }

    /**
     * Returns the number of dense layers of the inner model (1 for TTT-Linear, 2 for TTT-MLP).
     *
     * @return the depth
     */
    public int depth() {
        return weights.length / 2;
    }

    /**
     * Returns the weight of dense layer {@code l}.
     *
     * @param l the layer, from 0
     * @return {@code (B, H, f_in, f_out)}
     */
    public NDArray weight(int l) {
        return weights[2 * l];
    }

    /**
     * Returns the bias of dense layer {@code l}.
     *
     * @param l the layer, from 0
     * @return {@code (B, H, 1, f_out)}
     */
    public NDArray bias(int l) {
        return weights[2 * l + 1];
    }

    /**
     * Returns weight or bias {@code i} in the order {@code W1, b1[, W2, b2]}.
     *
     * @param i the index, from 0 to {@code 2 · depth − 1}
     * @return the array
     */
    public NDArray get(int i) {
        return weights[i];
    }

    /**
     * Returns whether gradients of an incomplete mini-batch are pending.
     *
     * @return true between mini-batch boundaries
     */
    public boolean hasPendingGradients() {
        return pendingGradients != null;
    }

    /**
     * Returns the pending gradient of dense layer {@code l}'s weight.
     *
     * @param l the layer, from 0
     * @return {@code Σ_j lr_j X_jᵀ G_j}, {@code (B, H, f_in, f_out)}
     */
    public NDArray weightGradient(int l) {
        return pendingGradients[2 * l];
    }

    /**
     * Returns the pending gradient of dense layer {@code l}'s bias.
     *
     * @param l the layer, from 0
     * @return {@code Σ_j lr_j G_j}, {@code (B, H, 1, f_out)}
     */
    public NDArray biasGradient(int l) {
        return pendingGradients[2 * l + 1];
    }

    /**
     * Returns the weights in order {@code W1, b1[, W2, b2]}.
     *
     * @return a new list
     */
    public List<NDArray> weights() {
        return Arrays.asList(weights.clone());
    }

    /**
     * Returns the pending gradients in the order of {@link #weights()}.
     *
     * @return a new list, or {@code null} at a mini-batch boundary
     */
    public List<NDArray> pendingGradients() {
        return pendingGradients == null ? null : Arrays.asList(pendingGradients.clone());
    }

    /**
     * Returns every array of this state: weights, then pending gradients if any.
     *
     * @return the arrays
     */
    public NDArray[] arrays() {
        if (pendingGradients == null) {
            return weights.clone();
        }
        NDArray[] all = Arrays.copyOf(weights, weights.length * 2);
        System.arraycopy(pendingGradients, 0, all, weights.length, weights.length);
        return all;
    }
}
