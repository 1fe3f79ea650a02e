package ai.djl.ttt.nn.inner;

import ai.djl.ndarray.NDArray;

/**
 * The inputs of one inner-loop step: {@code k ≤ b} consecutive tokens of one mini-batch, for every
 * sequence and head ({@code N = B·H}), with everything that could be computed before the scan (spec
 * §1.4, §1.5). Keys and queries carry a trailing column of ones (the homogeneous form of {@link
 * FastWeights}).
 */
public final class MiniBatch {

    final NDArray keyQuery;
    final int tokens;
    final NDArray keyTransposed;
    final NDArray lossShift;
    final NDArray learningRate;
    final NDArray tokenFactor;
    final NDArray trilEta;
    final NDArray queryKeyEta;
    final NDArray updateRate;
    final boolean completes;
    final NDArray completesPerRow;

    private MiniBatch(Builder b) {
        keyQuery = b.keyQuery;
        tokens = b.tokens;
        keyTransposed = b.keyTransposed;
        lossShift = b.lossShift;
        learningRate = b.learningRate;
        tokenFactor = b.tokenFactor;
        trilEta = b.trilEta;
        queryKeyEta = b.queryKeyEta;
        updateRate = b.updateRate;
        completes = b.completes;
        completesPerRow = b.completesPerRow;
    }

    /**
     * A mini-batch for the dual form. It must start at a mini-batch boundary.
     *
     * @param keyQuery {@code [XK, 1]} stacked over {@code [XQ, 1]} along the tokens, {@code (N, 2k,
     *     f + 1)}: the training and the test view go through the first dense layer in one product
     * @param keyTransposed {@code [XK, 1]ᵀ}, {@code (N, f + 1, k)}
     * @param lossShift {@code γ ⊙ (β − (XV − XK))}, the constant part of the loss gradient (see
     *     {@link InnerMath#layerNormL2Backward(NDArray, NDArray, NDArray)}), {@code (N, k, f)}
     * @param trilEta {@code tril(E)}, {@code E[i,j] = tok_i · lr_j}, {@code (N, k, k)}
     * @param queryKeyEta {@code tril(E) ⊙ ([XQ, 1] [XK, 1]ᵀ)}, {@code (N, k, k)}
     * @param updateRate per-key step of the end-of-segment update {@code (N, k, 1)}: the last row
     *     of E ({@code tok_{k−1} · lr_j}) when the segment completes the mini-batch, otherwise
     *     {@code lr_j} (the gradients are then kept pending)
     * @param completes whether the segment ends on a mini-batch boundary
     * @return the mini-batch
     */
    public static MiniBatch dual(
            NDArray keyQuery,
            NDArray keyTransposed,
            NDArray lossShift,
            NDArray trilEta,
            NDArray queryKeyEta,
            NDArray updateRate,
            boolean completes) {
        Builder b = new Builder(keyQuery, keyTransposed, lossShift);
        b.trilEta = trilEta;
        b.queryKeyEta = queryKeyEta;
        b.updateRate = updateRate;
        b.completes = completes;
        return new MiniBatch(b);
    }

    /**
     * A mini-batch for the primal form; it may start anywhere inside a mini-batch.
     *
     * @param keyQuery {@code [XK, 1]} stacked over {@code [XQ, 1]}, {@code (N, 2k, f + 1)}
     * @param keyTransposed {@code [XK, 1]ᵀ}, {@code (N, f + 1, k)}
     * @param lossShift {@code γ ⊙ (β − (XV − XK))}, {@code (N, k, f)}
     * @param learningRate {@code lr_j = η_base σ(x_j·w_h + c_h)/f}, {@code (N, k, 1)}
     * @param tokenFactor {@code tok_i}, broadcastable to {@code (N, k, 1)}: {@code (k, 1)} for a
     *     chunk at the same offset in every row, {@code (N, 1, 1)} for one token per row at per-row
     *     offsets
     * @param completes whether the segment ends on a mini-batch boundary (ignored when {@code
     *     completesPerRow} is given)
     * @param completesPerRow {@code (N, 1, 1)} 0/1 per row, or {@code null}
     * @return the mini-batch
     */
    public static MiniBatch primal(
            NDArray keyQuery,
            NDArray keyTransposed,
            NDArray lossShift,
            NDArray learningRate,
            NDArray tokenFactor,
            boolean completes,
            NDArray completesPerRow) {
        Builder b = new Builder(keyQuery, keyTransposed, lossShift);
        b.learningRate = learningRate;
        b.tokenFactor = tokenFactor;
        b.completes = completes;
        b.completesPerRow = completesPerRow;
        return new MiniBatch(b);
    }

    private static final class Builder {
        final NDArray keyQuery;
        final int tokens;
        final NDArray keyTransposed;
        final NDArray lossShift;
        NDArray learningRate;
        NDArray tokenFactor;
        NDArray trilEta;
        NDArray queryKeyEta;
        NDArray updateRate;
        boolean completes;
        NDArray completesPerRow;

        Builder(NDArray keyQuery, NDArray keyTransposed, NDArray lossShift) {
            this.keyQuery = keyQuery;
            this.tokens = (int) (keyQuery.getShape().get(1) / 2);
            this.keyTransposed = keyTransposed;
            this.lossShift = lossShift;
        }
    }
}
