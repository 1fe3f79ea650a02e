package ai.djl.ttt.nn.inner;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Linear;

/**
 * The inner learner of a TTT layer: mini-batch gradient descent with learned token-wise and
 * head-wise learning rates (reference.md §1.2.6, §14.5). Token {@code i} of a mini-batch sees the
 * weights
 *
 * <pre>
 * W_i = W − tok_i · gW_i,     gW_i = Σ_{j≤i} lr_j ∇ℓ_j(W) = Σ_{j≤i} lr_j X_jᵀ G_j
 * </pre>
 *
 * where every gradient is taken at the weights {@code W} of the mini-batch's start, {@code lr_j =
 * η_base σ(x_j·w_h + c_h) / f} is the head-wise rate read from the token, and {@code tok_i =
 * max(1/(i+1) + learnable_token_idx_i, 0)} the token-wise factor. At the end of a mini-batch the
 * last token's weights become the next {@code W}.
 *
 * <p>This class is the one place of that rule: the rates, the η matrices of the dual form, the
 * update at the end of a mini-batch and the pending gradient between boundaries. Every update path
 * of an {@link InnerModel} (dual, primal, one token, rows at different offsets) calls it, so a
 * different inner learning rule changes this class only. The gradients {@code G} themselves come
 * from the inner model and the {@link ReconstructionLoss}.
 */
public final class InnerOptimizer {

    private final double baseLearningRate;
    private final int headDim;

    /**
     * Creates the learner.
     *
     * @param baseLearningRate {@code η_base} ({@code ttt_base_lr})
     * @param headDim f, the rates' divisor
     */
    public InnerOptimizer(double baseLearningRate, int headDim) {
        this.baseLearningRate = baseLearningRate;
        this.headDim = headDim;
    }

    /**
     * The head-wise learning rate of every token, read from the layer's input (reference.md §1.2.6,
     * §14.1).
     *
     * @param x the layer's input {@code (B, T, C)}
     * @param weight {@code learnable_ttt_lr_weight} {@code (H, 1, C)}
     * @param bias {@code learnable_ttt_lr_bias} {@code (H, 1)}
     * @return {@code lr = η_base σ(X w_h + c_h) / f}, {@code (B, T, H)}
     */
    public NDArray learningRates(NDArray x, NDArray weight, NDArray bias) {
        long heads = weight.getShape().get(0);
        NDArray logits = Linear.linear(x, weight.reshape(heads, -1), bias.reshape(heads)).head();
        return Constants.times(Activation.sigmoid(logits), baseLearningRate / headDim);
    }

    /**
     * The token-wise factors of a mini-batch (reference.md §1.2.6).
     *
     * @param learnable {@code learnable_token_idx} {@code (b)}
     * @param like an array of the forward pass, whose manager owns the result
     * @return {@code tok_i = max(1/(i+1) + learnable_token_idx_i, 0)}, {@code (b)}
     */
    public NDArray tokenFactors(NDArray learnable, NDArray like) {
        int b = Math.toIntExact(learnable.getShape().get(0));
        float[] base = new float[b];
        for (int i = 0; i < b; i++) {
            base[i] = 1f / (i + 1);
        }
        NDArray start = Constants.of(like.getManager(), base, new Shape(b), like);
        // clamp_min(·, 0) as a ReLU: maximum(Number) would keep a Java-owned scalar for backward
        return Activation.relu(start.add(learnable));
    }

    /**
     * The η matrices of the dual form for mini-batches that start at a boundary (reference.md
     * §1.2.6, §14.2).
     *
     * @param tokenFactor {@code tok_i} of the mini-batch's tokens, {@code (k, 1)}
     * @param learningRate {@code lr_j}, {@code (n, N, k, 1)}
     * @param completes whether the mini-batches end on a boundary
     * @return {@code tril(E)} with {@code E[i,j] = tok_i · lr_j}, and the update rates
     */
    public DualRates dualRates(NDArray tokenFactor, NDArray learningRate, boolean completes) {
        NDArray eta = tokenFactor.mul(learningRate.transpose(0, 1, 3, 2));
        NDArray trilEta = eta.mul(causalMask(tokenFactor));
        // the end-of-mini-batch update uses the last ROW of E: tok_{k−1} · lr_j
        long k = tokenFactor.getShape().get(0);
        NDArray updateRate = completes ? learningRate.mul(tokenFactor.get(k - 1)) : learningRate;
        return new DualRates(trilEta, updateRate);
    }

    /**
     * How the gradients of earlier tokens reach a later token's output in the dual form: {@code
     * tril(E) ⊙ (X̄ Xᵀ)}, so that {@code X̄ W_i = X̄ W − (tril(E) ⊙ (X̄ Xᵀ)) G} for every token at
     * once.
     *
     * @param trilEta {@code tril(E)}, {@code (…, k, k)}
     * @param testInput {@code X̄}, the layer's input on the test view, {@code (…, k, in)}
     * @param transposedInput {@code Xᵀ}, its input on the training view, {@code (…, in, k)}
     * @return {@code (…, k, k)}
     */
    public NDArray mixing(NDArray trilEta, NDArray testInput, NDArray transposedInput) {
        return trilEta.mul(testInput.matMul(transposedInput));
    }

    /**
     * The state after a mini-batch in the dual form: {@code W' = W − Xᵀ (e ⊙ G)} per dense layer
     * when it completes, or {@code W} with the pending gradient {@code Xᵀ (lr ⊙ G)} when it does
     * not.
     *
     * @param state the weights at the mini-batch's start, without pending gradients
     * @param transposedInputs each layer's training-view input {@code Xᵀ}, {@code (N, in, k)}
     * @param gradients each layer's output gradient {@code G}, {@code (N, k, out)}
     * @param updateRate the {@link DualRates#updateRate}, {@code (N, k, 1)}
     * @param completes whether the mini-batch ends on a boundary
     * @param inPlace whether the weights may be overwritten (nothing else holds or records them)
     * @return the next state
     */
    public FastWeights dualUpdate(
            FastWeights state,
            NDArray[] transposedInputs,
            NDArray[] gradients,
            NDArray updateRate,
            boolean completes,
            boolean inPlace) {
        int depth = state.depth();
        NDArray[] updates = new NDArray[depth];
        for (int l = 0; l < depth; l++) {
            updates[l] = transposedInputs[l].matMul(gradients[l].mul(updateRate));
        }
        if (!completes) {
            return state.withPending(updates);
        }
        NDArray[] layers = new NDArray[depth];
        for (int l = 0; l < depth; l++) {
            NDArray w = state.layer(l);
            layers[l] = inPlace ? w.subi(updates[l]) : w.sub(updates[l]);
        }
        return new FastWeights(layers, null);
    }

    /**
     * A token's step on its gradient, {@code lr_j G_j}: the factor kept for the rank-1 term {@code
     * X_jᵀ (lr_j G_j)} of the pending gradient.
     *
     * @param gradient {@code G}, {@code (N, k, out)}
     * @param learningRate {@code lr}, {@code (N, k, 1)}
     * @return {@code (N, k, out)}
     */
    public NDArray scaledGradient(NDArray gradient, NDArray learningRate) {
        return gradient.mul(learningRate);
    }

    /**
     * The pending gradient after each token of a primal-form chunk: {@code gW_n = gW + Σ_{j≤n} lr_j
     * X_jᵀ G_j}.
     *
     * @param inputs the tokens' inputs {@code X}, {@code (N, k, in)}
     * @param scaled {@link #scaledGradient}, {@code (N, k, out)}
     * @param pending the pending gradient before the chunk {@code (N, in, out)}, or {@code null}
     * @return {@code (N, k, in, out)}
     */
    public NDArray pendingGradients(NDArray inputs, NDArray scaled, NDArray pending) {
        // per-token outer products X_jᵀ G_j: a broadcast product, not a batched matMul with an
        // inner size of 1 (one tiny GEMM call per row and token: 146 µs against ~30 per TTT-MLP
        // decode step); each element is the same single product either way
        NDArray gradient = inputs.expandDims(3).mul(scaled.expandDims(2));
        if (inputs.getShape().get(1) > 1) {
            gradient = gradient.cumSum(1); // one token: a copy of 100+ µs for nothing
        }
        return pending == null ? gradient : gradient.add(pending.expandDims(1));
    }

    /**
     * A token's own weights, {@code W̄ = W − tok · gW}.
     *
     * @param weights {@code W}, broadcastable against {@code pending}
     * @param pending {@code gW}
     * @param tokenFactor {@code tok}, broadcastable
     * @return {@code W̄}
     */
    public NDArray tokenWeights(NDArray weights, NDArray pending, NDArray tokenFactor) {
        return weights.sub(pending.mul(tokenFactor));
    }

    /**
     * A token's output through its own weights without forming them: {@code X̄ W̄ = X̄ W − tok ·
     * (X̄ gW)}.
     *
     * @param product {@code X̄ W}
     * @param throughPending {@code X̄ gW}
     * @param tokenFactor {@code tok}, broadcastable
     * @return {@code X̄ W̄}
     */
    public NDArray throughTokenWeights(
            NDArray product, NDArray throughPending, NDArray tokenFactor) {
        return product.sub(throughPending.mul(tokenFactor));
    }

    /**
     * The state after tokens in the primal form: at a boundary the last token's weights with no
     * pending gradient, else the boundary weights with the last token's pending gradient; rows at
     * different offsets blend the two with a 0/1 mask (exact for 0 and 1).
     *
     * @param state the state before the tokens
     * @param lastWeights each layer's weights {@code W̄} of the last token
     * @param lastPending each layer's pending gradient {@code gW} after the last token
     * @param batch the tokens: whether they end on a boundary, for all rows or per row
     * @param one 1, of the state's data type
     * @return the next state
     */
    public FastWeights settle(
            FastWeights state,
            NDArray[] lastWeights,
            NDArray[] lastPending,
            MiniBatch batch,
            NDArray one) {
        NDArray completesPerRow = batch.completesPerRow();
        if (completesPerRow != null) {
            int depth = state.depth();
            NDArray[] layers = new NDArray[depth];
            NDArray pendingRows = one.sub(completesPerRow);
            NDArray[] pending = new NDArray[depth];
            for (int l = 0; l < depth; l++) {
                layers[l] =
                        lastWeights[l].mul(completesPerRow).add(state.layer(l).mul(pendingRows));
                pending[l] = lastPending[l].mul(pendingRows);
            }
            return new FastWeights(layers, pending);
        }
        return batch.completes()
                ? new FastWeights(lastWeights, null)
                : state.withPending(lastPending);
    }

    /** The lower-triangular 0/1 mask {@code (k, k)}, with the data type of the factors. */
    private static NDArray causalMask(NDArray tokenFactor) {
        int k = Math.toIntExact(tokenFactor.getShape().get(0));
        float[] mask = new float[k * k];
        for (int i = 0; i < k; i++) {
            for (int j = 0; j <= i; j++) {
                mask[i * k + j] = 1;
            }
        }
        return Constants.of(tokenFactor.getManager(), mask, new Shape(k, k), tokenFactor);
    }

    /**
     * The η matrices of dual-form mini-batches.
     *
     * @param trilEta {@code tril(E)}, {@code E[i,j] = tok_i · lr_j}, {@code (n, N, k, k)}
     * @param updateRate the per-key step of the end-of-mini-batch update {@code (n, N, k, 1)}: the
     *     last row of E ({@code tok_{k−1} · lr_j}) when the mini-batches complete, otherwise {@code
     *     lr_j} (the gradients are then kept pending)
     */
    public record DualRates(NDArray trilEta, NDArray updateRate) {}
}
