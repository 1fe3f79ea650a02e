package ai.djl.ttt.nn.inner;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * The element-wise pieces of the inner loop, exactly as the official {@code ttt.py} computes them:
 * the per-head LayerNorm of the reconstruction, the closed-form gradient of its L2 loss, and the
 * tanh-approximated GELU with its derivative.
 *
 * <p>All functions reduce over the last axis (the head dimension f) and broadcast the per-head
 * parameters, so they work on any layout whose last axis is f: {@code (B, H, b, f)} inside the scan
 * and {@code (B, T, H, f)} around it. Data operands come first so that results belong to the data's
 * {@code NDManager}, never to a parameter's.
 */
public final class InnerMath {

    /**
     * Epsilon of the per-head {@code ttt_norm} (hard-coded 1e-6 in {@code ttt.py}, reference.md
     * §0).
     */
    public static final double TTT_NORM_EPS = 1e-6;

    /** √(2/π), the tanh-GELU constant used by {@code F.gelu(approximate="tanh")}. */
    private static final double SQRT_2_OVER_PI = 0.7978845608028654;

    /**
     * The constants of the official hand-written {@code gelu_bwd} (ttt.py 509–512, reference.md
     * §1.6).
     */
    private static final double GELU_BWD_C = 0.79788456;

    private static final double GELU_BWD_C3 = 0.1070322243;
    private static final double GELU_CUBIC = 0.044715;

    private InnerMath() {}

    /**
     * The per-head LayerNorm {@code LN_h(z) = γ_h ⊙ (z − μ)/sqrt(var + ε) + β_h} over the last
     * axis, with the biased variance (reference.md §0; {@code ln_fwd}, ttt.py 461–475).
     *
     * @param z the activations, last axis f
     * @param gamma the scale, broadcastable to {@code z} (e.g. {@code (H, 1, f)} or {@code (H, f)})
     * @param beta the shift, same shape as {@code gamma}
     * @return {@code LN_h(z)}, shape of {@code z}
     */
    public static NDArray layerNorm(NDArray z, NDArray gamma, NDArray beta) {
        // libtorch's fused layer_norm for (z − μ)/σ (one pass instead of seven ops over the whole
        // chunk); the per-head γ, β do not fit its per-feature affine, so they are applied after
        long f = z.getShape().getLastDimension();
        NDManager manager = z.getManager();
        try (NDArray ones = manager.ones(new Shape(f), z.getDataType());
                NDArray zeros = manager.zeros(new Shape(f), z.getDataType())) {
            NDArray normalized =
                    z.getNDArrayInternal()
                            .layerNorm(z, new Shape(f), ones, zeros, (float) TTT_NORM_EPS)
                            .head();
            return normalized.mul(gamma).add(beta);
        }
    }

    /**
     * The gradient with respect to {@code Z} of the inner loss {@code ℓ = ½ ‖LN_h(Z) − target‖²}
     * (sum over f, per token), in the closed form of the official {@code ln_fused_l2_bwd}
     * (reference.md §1.3):
     *
     * <pre>
     * x̂ = (Z − μ)/σ,  gy = γ x̂ + β − target,  gx̂ = gy γ
     * G = (f·gx̂ − Σ gx̂ − x̂ Σ(gx̂ x̂)) / (f σ)  =  (gx̂ − mean(gx̂) − x̂ mean(gx̂ x̂)) / σ
     * </pre>
     *
     * Built from ordinary differentiable ops, so the outer loop trains through it with first-order
     * autograd only.
     *
     * @param z the pre-norm output of the inner model on the training view, last axis f
     * @param target the self-supervised target {@code XV − XK}, shape of {@code z}
     * @param gamma the {@code ttt_norm} scale, broadcastable to {@code z}
     * @param beta the {@code ttt_norm} shift, broadcastable to {@code z}
     * @return {@code G = dℓ/dZ}, shape of {@code z}
     */
    public static NDArray layerNormL2Backward(
            NDArray z, NDArray target, NDArray gamma, NDArray beta) {
        return layerNormL2Backward(z, lossShift(target, gamma, beta), gamma.mul(gamma));
    }

    /**
     * The same gradient with its constant part computed ahead: since {@code gx̂ = γ (γ x̂ + β −
     * target) = γ² x̂ + γ (β − target)}, the scan computes {@code lossShift = γ (β − target)} for
     * all tokens at once and each step only needs {@code γ²}.
     *
     * @param z the pre-norm output of the inner model, last axis f
     * @param lossShift {@code γ ⊙ (β − target)} ({@link #lossShift}), shape of {@code z}
     * @param gammaSquared {@code γ ⊙ γ}, broadcastable to {@code z}
     * @return {@code G = dℓ/dZ}, shape of {@code z}
     */
    public static NDArray layerNormL2Backward(NDArray z, NDArray lossShift, NDArray gammaSquared) {
        return layerNormL2Backward(z, lossShift, gammaSquared, Scalars.like(z));
    }

    /**
     * {@link #layerNormL2Backward(NDArray, NDArray, NDArray)} with the scalar constants made ahead
     * (the scan calls it once per mini-batch).
     *
     * @param z the pre-norm output of the inner model, last axis f
     * @param lossShift {@code γ ⊙ (β − target)}, shape of {@code z}
     * @param gammaSquared {@code γ ⊙ γ}, broadcastable to {@code z}
     * @param scalars the constants, of {@code z}'s data type and device
     * @return {@code G = dℓ/dZ}, shape of {@code z}
     */
    public static NDArray layerNormL2Backward(
            NDArray z, NDArray lossShift, NDArray gammaSquared, Scalars scalars) {
        int[] last = {z.getShape().dimension() - 1};
        Normalized n = normalize(z, scalars);
        NDArray gradNormalized = n.normalized().mul(gammaSquared).add(lossShift);
        // the official formula divided through by f: means instead of sums / f (no scalar factor)
        return gradNormalized
                .sub(gradNormalized.mean(last, true))
                .sub(n.normalized().mul(gradNormalized.mul(n.normalized()).mean(last, true)))
                .div(n.std());
    }

    /**
     * The part of the loss gradient that does not depend on the inner weights, {@code γ ⊙ (β −
     * target)}.
     *
     * @param target the reconstruction target {@code XV − XK}
     * @param gamma γ, broadcastable to {@code target}
     * @param beta β, broadcastable to {@code target}
     * @return {@code γ ⊙ (β − target)}
     */
    public static NDArray lossShift(NDArray target, NDArray gamma, NDArray beta) {
        return target.neg().add(beta).mul(gamma);
    }

    /**
     * The tanh approximation of GELU, {@code 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))}, as {@code
     * F.gelu(approximate="tanh")} (TTT-MLP's inner activation and the output gate). DJL's {@code
     * Activation.gelu} is the exact erf form, which differs by up to 1e-3.
     *
     * @param x the input
     * @return {@code gelu_tanh(x)}
     */
    public static NDArray geluTanh(NDArray x) {
        return geluTanh(x, Scalars.like(x));
    }

    /**
     * {@link #geluTanh(NDArray)} with the scalar constants made ahead.
     *
     * @param x the input
     * @param c the constants, of {@code x}'s data type and device
     * @return {@code gelu_tanh(x)}
     */
    public static NDArray geluTanh(NDArray x, Scalars c) {
        // √(2/π) (x + 0.044715 x³) = (0.044715 √(2/π) x² + √(2/π)) x: one product fewer
        NDArray inner = x.mul(x).mul(c.cubicSqrt2OverPi).add(c.sqrt2OverPi).mul(x);
        return inner.tanh().add(c.one).mul(x).mul(c.half);
    }

    /**
     * The derivative of {@link #geluTanh}, with the constants of the official {@code gelu_bwd}
     * (reference.md §1.6): {@code t = tanh(0.79788456 x (1 + 0.044715 x²))}, {@code gelu'(x) = 0.5
     * x (1 − t²)(0.79788456 + 0.1070322243 x²) + 0.5 (1 + t)}.
     *
     * @param x the pre-activation
     * @return {@code gelu_tanh'(x)}
     */
    public static NDArray geluTanhDerivative(NDArray x) {
        return geluTanhDerivative(x, Scalars.like(x));
    }

    /**
     * {@link #geluTanhDerivative(NDArray)} with the scalar constants made ahead.
     *
     * @param x the pre-activation
     * @param c the constants, of {@code x}'s data type and device
     * @return {@code gelu_tanh'(x)}
     */
    public static NDArray geluTanhDerivative(NDArray x, Scalars c) {
        NDArray xSquared = x.mul(x);
        NDArray t = xSquared.mul(c.cubic).add(c.one).mul(x).mul(c.bwdC).tanh();
        NDArray slope = c.one.sub(t.mul(t)).mul(xSquared.mul(c.bwdC3).add(c.bwdC));
        return slope.mul(x).add(t).add(c.one).mul(c.half);
    }

    /**
     * {@code gelu_tanh(x)} and {@code gelu_tanh'(x)} together, for the inner model's training view
     * where both are needed: 16 ops instead of 23, the tanh and {@code x²} computed once. Both
     * formulas use {@code tanh(c x (1 + 0.044715 x²))}, with {@code c = √(2/π)} in the forward and
     * {@code c = 0.79788456} in the official {@code gelu_bwd}; the two constants round to the same
     * float32, so in float32 this equals {@link #geluTanh} and {@link #geluTanhDerivative} up to
     * the rounding of reordered products (about 1e-7 relative). In other types the constants differ
     * (by 1e-9 relative) and the two are computed apart, as the official code does.
     *
     * @param x the pre-activation
     * @param c the constants, of {@code x}'s data type and device
     * @return {@code gelu_tanh(x)} and {@code gelu_tanh'(x)}
     */
    public static Gelu geluTanhWithDerivative(NDArray x, Scalars c) {
        if (x.getDataType() != DataType.FLOAT32) {
            return new Gelu(geluTanh(x, c), geluTanhDerivative(x, c));
        }
        return geluTanhShared(x, c);
    }

    /**
     * The shared-tanh computation of {@link #geluTanhWithDerivative}, in any data type (its test
     * checks the algebra in float64, where the rounding does not hide a wrong term).
     */
    static Gelu geluTanhShared(NDArray x, Scalars c) {
        NDArray xSquared = x.mul(x);
        // √(2/π) (x + 0.044715 x³) = (0.044715 √(2/π) x² + √(2/π)) x
        NDArray t = xSquared.mul(c.cubicSqrt2OverPi).add(c.sqrt2OverPi).mul(x).tanh();
        NDArray halfX = x.mul(c.half);
        NDArray onePlusT = t.add(c.one); // shared by the value and the derivative
        NDArray gelu = onePlusT.mul(halfX);
        // gelu' = ½ x (1 − t²)(c + c₃ x²) + ½ (1 + t)  (reference.md §1.6)
        NDArray slope = c.one.sub(t.mul(t)).mul(xSquared.mul(c.bwdC3).add(c.bwdC));
        NDArray derivative = slope.mul(halfX).add(onePlusT.mul(c.half));
        return new Gelu(gelu, derivative);
    }

    /**
     * GELU's value and derivative at the same points.
     *
     * @param value {@code gelu_tanh(x)}
     * @param derivative {@code gelu_tanh'(x)}
     */
    public record Gelu(NDArray value, NDArray derivative) {}

    private static Normalized normalize(NDArray z, Scalars c) {
        int[] last = {z.getShape().dimension() - 1};
        NDArray centered = z.sub(z.mean(last, true));
        NDArray std = centered.mul(centered).mean(last, true).add(c.eps).sqrt();
        return new Normalized(centered.div(std), std);
    }

    /**
     * The scalar constants of the inner math as one-element arrays {@code (1)} of one data type and
     * device, made once per forward pass: an op with an array operand costs half of one with a Java
     * number (which DJL wraps into a new tensor at every call), and the scan makes a few dozen such
     * ops per mini-batch. Natively owned ({@link Constants}), so safe inside autograd. They are the
     * views of one array cut by a single split (a decode step makes a pass per layer, and eight
     * selects were eight native calls); with the data type of the arrays they are combined with,
     * they broadcast and promote as 0-dimensional scalars would.
     *
     * @param one 1
     * @param half 0.5
     * @param cubic 0.044715, the cubic coefficient of tanh-GELU
     * @param sqrt2OverPi √(2/π)
     * @param bwdC 0.79788456, the official {@code gelu_bwd} constant
     * @param bwdC3 0.1070322243, the official {@code gelu_bwd} constant
     * @param eps {@link #TTT_NORM_EPS}
     * @param cubicSqrt2OverPi 0.044715 · √(2/π), the folded cubic coefficient inside the tanh
     */
    public record Scalars(
            NDArray one,
            NDArray half,
            NDArray cubic,
            NDArray sqrt2OverPi,
            NDArray bwdC,
            NDArray bwdC3,
            NDArray eps,
            NDArray cubicSqrt2OverPi) {

        /**
         * Makes the constants with the data type and device of an array, in its manager.
         *
         * @param like the array they will be combined with
         * @return the constants
         */
        public static Scalars like(NDArray like) {
            NDArray all =
                    Constants.of(
                            like.getManager(),
                            new double[] {
                                1,
                                0.5,
                                GELU_CUBIC,
                                SQRT_2_OVER_PI,
                                GELU_BWD_C,
                                GELU_BWD_C3,
                                TTT_NORM_EPS,
                                GELU_CUBIC * SQRT_2_OVER_PI
                            },
                            new Shape(8),
                            like);
            // one split instead of eight selects: eight fewer native calls per layer and pass
            NDList s = all.split(8);
            return new Scalars(
                    s.get(0), s.get(1), s.get(2), s.get(3), s.get(4), s.get(5), s.get(6), s.get(7));
        }
    }

    /** {@code x̂ = (z − μ)/σ} and {@code σ = sqrt(var + ε)}. */
    private record Normalized(NDArray normalized, NDArray std) {}
}
