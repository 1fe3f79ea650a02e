package ai.djl.ttt.nn.inner;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;

/**
 * The inner model's self-supervised loss for one forward pass: {@code ℓ = ½ ‖LN_h(f(XK)) − (XV −
 * XK)‖²} (reference.md §1.3), with the per-head LayerNorm {@code ttt_norm} (γ, β) laid out per
 * folded row. Any inner model reconstructs through it; only the gradient with respect to the
 * model's output enters a step ({@link #gradient}).
 */
public final class ReconstructionLoss {

    private final NDArray gamma;
    private final NDArray beta;
    private final NDArray gammaSquared;
    private final InnerMath.Scalars scalars;

    /**
     * Creates the loss of one forward pass.
     *
     * @param normWeight the {@code ttt_norm} scale γ per row, {@code (N, 1, f)}
     * @param normBias the {@code ttt_norm} shift β per row, {@code (N, 1, f)}
     */
    public ReconstructionLoss(NDArray normWeight, NDArray normBias) {
        this(normWeight, normBias, InnerMath.Scalars.like(normWeight));
    }

    private ReconstructionLoss(NDArray gamma, NDArray beta, InnerMath.Scalars scalars) {
        this.gamma = gamma;
        this.beta = beta;
        this.gammaSquared = gamma.mul(gamma);
        this.scalars = scalars;
    }

    /**
     * Returns the loss of rows {@code [from, to)} of the folded batch (for a scan split over
     * threads).
     *
     * @param from the first row
     * @param to one past the last row
     * @return the loss with those rows' γ and β
     */
    public ReconstructionLoss rows(long from, long to) {
        NDIndex index = new NDIndex().addSliceDim(from, to);
        return new ReconstructionLoss(gamma.get(index), beta.get(index), scalars);
    }

    /**
     * Returns the scalar constants of the inner math, made once for this pass.
     *
     * @return the constants, of γ's data type and device
     */
    public InnerMath.Scalars scalars() {
        return scalars;
    }

    /**
     * Returns the constant part of the loss gradient for a block of tokens (hoisted out of the
     * scan).
     *
     * @param target {@code XV − XK}, {@code (…, N, k, f)}
     * @return {@code γ ⊙ (β − target)}
     */
    public NDArray shift(NDArray target) {
        return InnerMath.lossShift(target, gamma, beta);
    }

    /**
     * Returns the gradient of the loss with respect to the inner model's output {@code Z}
     * (reference.md §1.3, the official {@code ln_fused_l2_bwd}).
     *
     * @param z the inner model's output on the training view, {@code (N, k, f)}
     * @param shift {@link #shift} of the tokens' targets
     * @return {@code dℓ/dZ}, {@code (N, k, f)}
     */
    public NDArray gradient(NDArray z, NDArray shift) {
        return InnerMath.layerNormL2Backward(z, shift, gammaSquared, scalars);
    }

    /**
     * Returns the mean squared reconstruction error of an output, detached from autograd (for
     * {@link InnerLossStats}).
     *
     * @param z the inner model's output, {@code (N, k, f)}
     * @param target {@code XV − XK}, {@code (N, k, f)}
     * @return a scalar, the mean over rows, tokens and features
     */
    public NDArray meanError(NDArray z, NDArray target) {
        return InnerMath.layerNorm(z.stopGradient(), gamma.stopGradient(), beta.stopGradient())
                .sub(target.stopGradient())
                .square()
                .mean();
    }
}
