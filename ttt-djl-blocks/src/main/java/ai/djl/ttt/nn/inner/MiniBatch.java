package ai.djl.ttt.nn.inner;

import ai.djl.ndarray.NDArray;

/**
 * The inputs of one inner-loop step: {@code k ≤ b} consecutive tokens of one mini-batch, for every
 * sequence and head, with whatever could be computed before the scan (spec §1.4, §1.5).
 *
 * <p>All arrays are {@code (B, H, k, ·)}. A dual-form mini-batch carries the η products that do not
 * depend on the inner weights; a primal-form one carries the per-token factors.
 */
public final class MiniBatch {

    final NDArray query;
    final NDArray key;
    final NDArray target;
    final NDArray learningRate;
    final NDArray tokenFactor;
    final NDArray trilEta;
    final NDArray queryKeyEta;
    final NDArray updateRate;
    final boolean completes;
    final NDArray completesPerRow;

    private MiniBatch(
            NDArray query,
            NDArray key,
            NDArray target,
            NDArray learningRate,
            NDArray tokenFactor,
            NDArray trilEta,
            NDArray queryKeyEta,
            NDArray updateRate,
            boolean completes,
            NDArray completesPerRow) {
        this.query = query;
        this.key = key;
        this.target = target;
        this.learningRate = learningRate;
        this.tokenFactor = tokenFactor;
        this.trilEta = trilEta;
        this.queryKeyEta = queryKeyEta;
        this.updateRate = updateRate;
        this.completes = completes;
        this.completesPerRow = completesPerRow;
    }

    /**
     * A mini-batch for the dual form. It must start at a mini-batch boundary (no pending
     * gradients).
     *
     * @param query XQ, the test view {@code (B, H, k, f)}
     * @param key XK, the training view {@code (B, H, k, f)}
     * @param target {@code XV − XK} {@code (B, H, k, f)}
     * @param trilEta {@code tril(E)} with {@code E[i,j] = tok_i · lr_j}, {@code (B, H, k, k)}
     * @param queryKeyEta {@code tril(E) ⊙ (XQ XKᵀ + 1)}, the first dense layer's mixing matrix
     *     {@code (B, H, k, k)}
     * @param updateRate per-key step of the end-of-segment update {@code (B, H, k, 1)}: the last
     *     row of E ({@code tok_{k−1} · lr_j}) when the segment completes the mini-batch, otherwise
     *     {@code lr_j} (the gradients are then kept pending)
     * @param completes whether the segment ends on a mini-batch boundary
     * @return the mini-batch
     */
    public static MiniBatch dual(
            NDArray query,
            NDArray key,
            NDArray target,
            NDArray trilEta,
            NDArray queryKeyEta,
            NDArray updateRate,
            boolean completes) {
        return new MiniBatch(
                query, key, target, null, null, trilEta, queryKeyEta, updateRate, completes, null);
    }

    /**
     * A mini-batch for the primal form; it may start anywhere inside a mini-batch.
     *
     * @param query XQ {@code (B, H, k, f)}
     * @param key XK {@code (B, H, k, f)}
     * @param target {@code XV − XK} {@code (B, H, k, f)}
     * @param learningRate {@code lr_j = η_base σ(x_j·w_h + c_h)/f}, {@code (B, H, k, 1)}
     * @param tokenFactor {@code tok_i}, broadcastable to {@code (B, H, k, 1)}: {@code (k, 1)} for a
     *     chunk that starts at the same offset in every row, {@code (B, 1, 1, 1)} for one token per
     *     row at per-row offsets
     * @param completes whether the segment ends on a mini-batch boundary (ignored when {@code
     *     completesPerRow} is given)
     * @param completesPerRow {@code (B, 1, 1, 1)} 0/1 per row, or {@code null}
     * @return the mini-batch
     */
    public static MiniBatch primal(
            NDArray query,
            NDArray key,
            NDArray target,
            NDArray learningRate,
            NDArray tokenFactor,
            boolean completes,
            NDArray completesPerRow) {
        return new MiniBatch(
                query,
                key,
                target,
                learningRate,
                tokenFactor,
                null,
                null,
                null,
                completes,
                completesPerRow);
    }
}
