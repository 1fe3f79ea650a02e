package ai.djl.ttt.nn.inner;

import ai.djl.ndarray.NDArray;

/**
 * The inputs of one inner-loop step: {@code k ≤ b} consecutive tokens of one mini-batch, for every
 * sequence and head ({@code N = B·H}), with everything that could be computed before the scan
 * (reference.md §1.4, §1.5), and the loss they are learned on. Keys and queries carry a trailing
 * column of ones (the homogeneous form of {@link FastWeights}). Built with {@link #dual} or {@link
 * #primal}; the parts the other form needs are {@code null}.
 *
 * @param loss the reconstruction loss of this pass
 * @param keyQuery {@code [XK, 1]} stacked over {@code [XQ, 1]} along the tokens, {@code (N, 2k, f +
 *     1)}: the training and the test view go through the first dense layer in one product
 * @param keyTransposed {@code [XK, 1]ᵀ}, {@code (N, f + 1, k)}
 * @param lossShift {@code γ ⊙ (β − (XV − XK))}, the constant part of the loss gradient ({@link
 *     ReconstructionLoss#shift}), {@code (N, k, f)}
 * @param learningRate primal form: {@code lr_j = η_base σ(x_j·w_h + c_h)/f}, {@code (N, k, 1)}
 * @param tokenFactor primal form: {@code tok_i}, broadcastable to {@code (N, k, 1)}: {@code (k, 1)}
 *     for a chunk at the same offset in every row, {@code (N, 1, 1)} for one token per row at
 *     per-row offsets
 * @param trilEta dual form: {@code tril(E)}, {@code E[i,j] = tok_i · lr_j}, {@code (N, k, k)}
 * @param queryKeyEta dual form: {@code tril(E) ⊙ ([XQ, 1] [XK, 1]ᵀ)}, {@code (N, k, k)}
 * @param updateRate dual form: the per-key step of the end-of-segment update {@code (N, k, 1)}
 *     ({@link InnerOptimizer.DualRates#updateRate})
 * @param completes whether the segment ends on a mini-batch boundary (ignored when {@code
 *     completesPerRow} is given)
 * @param completesPerRow primal form, rows at different offsets: {@code (N, 1, 1)} 0/1 per row, or
 *     {@code null}
 */
public record MiniBatch(
        ReconstructionLoss loss,
        NDArray keyQuery,
        NDArray keyTransposed,
        NDArray lossShift,
        NDArray learningRate,
        NDArray tokenFactor,
        NDArray trilEta,
        NDArray queryKeyEta,
        NDArray updateRate,
        boolean completes,
        NDArray completesPerRow) {

    /**
     * A mini-batch for the dual form. It must start at a mini-batch boundary.
     *
     * @param loss the reconstruction loss of this pass
     * @param keyQuery {@code [XK, 1]} over {@code [XQ, 1]}, {@code (N, 2k, f + 1)}
     * @param keyTransposed {@code [XK, 1]ᵀ}, {@code (N, f + 1, k)}
     * @param lossShift {@code γ ⊙ (β − (XV − XK))}, {@code (N, k, f)}
     * @param trilEta {@code tril(E)}, {@code (N, k, k)}
     * @param queryKeyEta {@code tril(E) ⊙ ([XQ, 1] [XK, 1]ᵀ)}, {@code (N, k, k)}
     * @param updateRate the per-key step of the end-of-segment update {@code (N, k, 1)}
     * @param completes whether the segment ends on a mini-batch boundary
     * @return the mini-batch
     */
    public static MiniBatch dual(
            ReconstructionLoss loss,
            NDArray keyQuery,
            NDArray keyTransposed,
            NDArray lossShift,
            NDArray trilEta,
            NDArray queryKeyEta,
            NDArray updateRate,
            boolean completes) {
        return new MiniBatch(
                loss,
                keyQuery,
                keyTransposed,
                lossShift,
                null,
                null,
                trilEta,
                queryKeyEta,
                updateRate,
                completes,
                null);
    }

    /**
     * A mini-batch for the primal form; it may start anywhere inside a mini-batch.
     *
     * @param loss the reconstruction loss of this pass
     * @param keyQuery {@code [XK, 1]} over {@code [XQ, 1]}, {@code (N, 2k, f + 1)}
     * @param keyTransposed {@code [XK, 1]ᵀ}, {@code (N, f + 1, k)}
     * @param lossShift {@code γ ⊙ (β − (XV − XK))}, {@code (N, k, f)}
     * @param learningRate {@code lr_j}, {@code (N, k, 1)}
     * @param tokenFactor {@code tok_i}, {@code (k, 1)} or {@code (N, 1, 1)}
     * @param completes whether the segment ends on a mini-batch boundary
     * @param completesPerRow {@code (N, 1, 1)} 0/1 per row, or {@code null}
     * @return the mini-batch
     */
    public static MiniBatch primal(
            ReconstructionLoss loss,
            NDArray keyQuery,
            NDArray keyTransposed,
            NDArray lossShift,
            NDArray learningRate,
            NDArray tokenFactor,
            boolean completes,
            NDArray completesPerRow) {
        return new MiniBatch(
                loss,
                keyQuery,
                keyTransposed,
                lossShift,
                learningRate,
                tokenFactor,
                null,
                null,
                null,
                completes,
                completesPerRow);
    }

    /**
     * Returns the number of tokens {@code k}.
     *
     * @return k
     */
    public int tokens() {
        return (int) (keyQuery.getShape().get(1) / 2);
    }
}
