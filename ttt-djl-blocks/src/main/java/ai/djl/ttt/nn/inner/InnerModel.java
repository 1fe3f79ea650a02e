package ai.djl.ttt.nn.inner;

import ai.djl.ndarray.NDArray;
import ai.djl.ttt.LayerType;

/**
 * The inner model of a TTT layer and its gradient steps: the dual form (spec §1.4, §1.6) and the
 * primal form (spec §1.5).
 *
 * <p>The inner model is a chain of dense layers {@code Z_l = X_l W_l + b_l} with a tanh-GELU
 * between them: one layer for TTT-Linear, two ({@code f → 4f → f}) for TTT-MLP. Its output goes
 * through the per-head LayerNorm; the inner loss is {@code ½ ‖LN_h(f(XK)) − (XV − XK)‖²}. Every
 * formula below holds per dense layer, which is how TTT-Linear and TTT-MLP share one
 * implementation: the MLP only adds the chain rule through the GELU, {@code G1 = (G2 W2ᵀ) ⊙
 * gelu'(Z1)}.
 *
 * <p>Mini-batch gradient descent (spec §14.5): every gradient of a mini-batch is taken at the
 * weights of its start; token {@code i} sees {@code W_i = W − tok_i Σ_{j≤i} lr_j ∇ℓ_j(W)}.
 *
 * <p>All arrays are {@code (B, H, k, ·)}: batch, heads, tokens of the mini-batch, features.
 */
public final class InnerModel {

    private final int depth;
    private final NDArray normWeight;
    private final NDArray normBias;

    /**
     * Creates the inner model of one forward pass.
     *
     * @param type TTT-Linear or TTT-MLP
     * @param normWeight the {@code ttt_norm} scale γ, {@code (H, 1, f)}
     * @param normBias the {@code ttt_norm} shift β, {@code (H, 1, f)}
     */
    public InnerModel(LayerType type, NDArray normWeight, NDArray normBias) {
        this.depth = type == LayerType.MLP ? 2 : 1;
        this.normWeight = normWeight;
        this.normBias = normBias;
    }

    /**
     * One mini-batch in the dual form: the outputs of all {@code k} tokens with a handful of matrix
     * products, without materialising the per-token weights (spec §1.4, §1.6):
     *
     * <pre>
     * Z̄_l  = X̄_l W_l + b_l − (tril(E) ⊙ (X̄_l X_lᵀ + 1)) G_l      (X̄_0 = XQ, X̄_1 = gelu(Z̄_0))
     * W_l' = W_l − X_lᵀ (e ⊙ G_l),   b_l' = b_l − Σ_j e_j G_l,j     (e: last row of E)
     * </pre>
     *
     * The first term is the paper's {@code Q W − (E ⊙ tril(QKᵀ)) G} plus the per-token bias {@code
     * b − tril(E) G}, folded into one product.
     *
     * @param state the weights at the start of the mini-batch; must have no pending gradients
     * @param batch the mini-batch, built with {@link MiniBatch#dual}
     * @return the pre-norm outputs {@code Z̄} {@code (B, H, k, f)} and the next state
     */
    public Step dualStep(FastWeights state, MiniBatch batch) {
        if (state.hasPendingGradients()) {
            throw new IllegalStateException(
                    "the dual form starts at a mini-batch boundary; use the primal form");
        }
        TrainingView view = trainingView(state, batch.key, batch.target);

        NDArray testInput = batch.query;
        NDArray output = null;
        for (int l = 0; l < depth; l++) {
            NDArray mixing =
                    l == 0
                            ? batch.queryKeyEta
                            : batch.trilEta.mul(
                                    testInput.matMul(transpose(view.inputs()[l])).add(1));
            output =
                    testInput
                            .matMul(state.weight(l))
                            .add(state.bias(l))
                            .sub(mixing.matMul(view.gradients()[l]));
            if (l < depth - 1) {
                testInput = InnerMath.geluTanh(output);
            }
        }

        NDArray[] updates = new NDArray[2 * depth];
        for (int l = 0; l < depth; l++) {
            NDArray scaled = view.gradients()[l].mul(batch.updateRate);
            updates[2 * l] = transpose(view.inputs()[l]).matMul(scaled);
            updates[2 * l + 1] = scaled.sum(new int[] {2}, true);
        }
        return new Step(output, advance(state, updates, batch.completes));
    }

    /**
     * Tokens in the primal form: each token's own weights {@code W̄_n} are materialised and applied
     * (spec §1.5). This is the recurrent form used to decode one token at a time; it can start
     * anywhere inside a mini-batch, continuing the pending gradients:
     *
     * <pre>
     * gW_n = gW + Σ_{j≤n} lr_j X_jᵀ G_j,   gb_n = gb + Σ_{j≤n} lr_j G_j
     * W̄_n  = W − tok_n gW_n,              b̄_n  = b − tok_n gb_n
     * Z̄_n  = X̄_n W̄_n + b̄_n
     * </pre>
     *
     * At the end of a mini-batch the state becomes {@code (W̄_{k−1}, b̄_{k−1})} with no pending
     * gradient; otherwise the boundary weights stay and {@code gW_{k−1}} is kept.
     *
     * @param state the weights at the last boundary and the pending gradients
     * @param batch the tokens, built with {@link MiniBatch#primal}
     * @return the pre-norm outputs {@code Z̄} {@code (B, H, k, f)} and the next state
     */
    public Step primalStep(FastWeights state, MiniBatch batch) {
        TrainingView view = trainingView(state, batch.key, batch.target);
        NDArray tokenFactor5d = batch.tokenFactor.expandDims(-1);

        NDArray testInput = batch.query;
        NDArray output = null;
        NDArray[] lastWeights = new NDArray[2 * depth];
        NDArray[] lastGradients = new NDArray[2 * depth];
        for (int l = 0; l < depth; l++) {
            NDArray scaled = view.gradients()[l].mul(batch.learningRate);
            NDArray outer = view.inputs()[l].expandDims(4).matMul(scaled.expandDims(3));
            NDArray weightGradient = outer.cumSum(2);
            NDArray biasGradient = scaled.cumSum(2);
            if (state.hasPendingGradients()) {
                weightGradient = weightGradient.add(state.weightGradient(l).expandDims(2));
                biasGradient = biasGradient.add(state.biasGradient(l));
            }
            NDArray tokenWeights =
                    state.weight(l).expandDims(2).sub(weightGradient.mul(tokenFactor5d));
            NDArray tokenBias = state.bias(l).sub(biasGradient.mul(batch.tokenFactor));
            output = testInput.expandDims(3).matMul(tokenWeights).squeeze(3).add(tokenBias);
            if (l < depth - 1) {
                testInput = InnerMath.geluTanh(output);
            }

            long k = tokenBias.getShape().get(2);
            lastWeights[2 * l] = tokenWeights.get(":, :, {}", k - 1);
            lastWeights[2 * l + 1] = tokenBias.get(":, :, {}:", k - 1);
            lastGradients[2 * l] = weightGradient.get(":, :, {}", k - 1);
            lastGradients[2 * l + 1] = biasGradient.get(":, :, {}:", k - 1);
        }
        return new Step(output, settle(state, lastWeights, lastGradients, batch));
    }

    /**
     * The forward of the training view through the inner model and the gradient of the inner loss
     * with respect to every dense layer's output (spec §1.3, §1.6).
     */
    private TrainingView trainingView(FastWeights state, NDArray key, NDArray target) {
        NDArray[] inputs = new NDArray[depth];
        NDArray[] preActivations = new NDArray[depth];
        NDArray x = key;
        for (int l = 0; l < depth; l++) {
            inputs[l] = x;
            preActivations[l] = x.matMul(state.weight(l)).add(state.bias(l));
            if (l < depth - 1) {
                x = InnerMath.geluTanh(preActivations[l]);
            }
        }
        NDArray[] gradients = new NDArray[depth];
        gradients[depth - 1] =
                InnerMath.layerNormL2Backward(
                        preActivations[depth - 1], target, normWeight, normBias);
        for (int l = depth - 2; l >= 0; l--) {
            gradients[l] =
                    gradients[l + 1]
                            .matMul(transpose(state.weight(l + 1)))
                            .mul(InnerMath.geluTanhDerivative(preActivations[l]));
        }
        return new TrainingView(inputs, gradients);
    }

    /** Applies dual-form updates: subtract at a boundary, otherwise keep them pending. */
    private FastWeights advance(FastWeights state, NDArray[] updates, boolean completes) {
        NDArray[] weights = new NDArray[2 * depth];
        for (int i = 0; i < weights.length; i++) {
            weights[i] = completes ? state.get(i).sub(updates[i]) : state.get(i);
        }
        return new FastWeights(weights, completes ? null : updates);
    }

    /** Chooses the primal-form next state: the last token's weights at a boundary, else pending. */
    private FastWeights settle(
            FastWeights state, NDArray[] lastWeights, NDArray[] lastGradients, MiniBatch batch) {
        NDArray[] weights = new NDArray[2 * depth];
        if (batch.completesPerRow != null) {
            // rows at different offsets: blend with a 0/1 mask (exact for 0 and 1)
            NDArray done = batch.completesPerRow;
            NDArray pending = done.neg().add(1);
            NDArray[] gradients = new NDArray[2 * depth];
            for (int i = 0; i < weights.length; i++) {
                weights[i] = lastWeights[i].mul(done).add(state.get(i).mul(pending));
                gradients[i] = lastGradients[i].mul(pending);
            }
            return new FastWeights(weights, gradients);
        }
        if (batch.completes) {
            return new FastWeights(lastWeights, null);
        }
        for (int i = 0; i < weights.length; i++) {
            weights[i] = state.get(i);
        }
        return new FastWeights(weights, lastGradients);
    }

    private static NDArray transpose(NDArray x) {
        return x.transpose(0, 1, 3, 2);
    }

    /**
     * Activations of the training view.
     *
     * @param inputs each dense layer's input {@code X_l}
     * @param gradients the inner loss gradient at each dense layer's output {@code G_l}
     */
    private record TrainingView(NDArray[] inputs, NDArray[] gradients) {}

    /**
     * The result of one step.
     *
     * @param output the pre-norm outputs {@code Z̄} of the step's tokens, {@code (B, H, k, f)}
     * @param next the state after the step's tokens
     */
    public record Step(NDArray output, FastWeights next) {}
}
