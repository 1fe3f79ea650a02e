package ai.djl.ttt.nn.inner;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
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
 * <p>Arrays are {@code (N, k, ·)} with heads folded into the batch ({@code N = B·H}). Inputs of a
 * dense layer carry a trailing 1 and weights their bias as a last row ({@link FastWeights}), so
 * {@code X W + b} is one product {@code [X, 1] [W; b]}.
 */
public final class InnerModel {

    /** Pads the last axis with one value after its end. */
    private static final Shape ONE_MORE_COLUMN = new Shape(0, 1);

    private final int depth;
    private final NDArray gammaSquared;
    private final NDArray gamma;
    private final NDArray beta;
    private final InnerMath.Scalars scalars;

    /**
     * Creates the inner model of one forward pass.
     *
     * @param type TTT-Linear or TTT-MLP
     * @param normWeight the {@code ttt_norm} scale γ per row, {@code (N, 1, f)}
     * @param normBias the {@code ttt_norm} shift β per row, {@code (N, 1, f)}
     */
    public InnerModel(LayerType type, NDArray normWeight, NDArray normBias) {
        this.depth = type == LayerType.MLP ? 2 : 1;
        this.gamma = normWeight;
        this.beta = normBias;
        this.gammaSquared = normWeight.mul(normWeight);
        this.scalars = InnerMath.Scalars.like(normWeight);
    }

    /**
     * Returns the inner model of rows {@code [from, to)} of the folded batch (for a scan split over
     * threads).
     *
     * @param from the first row
     * @param to one past the last row
     * @return the model with those rows' γ and β
     */
    public InnerModel rows(long from, long to) {
        NDIndex index = new NDIndex().addSliceDim(from, to);
        return new InnerModel(depth, gamma.get(index), beta.get(index), scalars);
    }

    private InnerModel(int depth, NDArray gamma, NDArray beta, InnerMath.Scalars scalars) {
        this.depth = depth;
        this.gamma = gamma;
        this.beta = beta;
        this.gammaSquared = gamma.mul(gamma);
        this.scalars = scalars;
    }

    /**
     * Returns the constant part of the loss gradient for a block of tokens (hoisted out of the
     * scan).
     *
     * @param target {@code XV − XK}, {@code (…, N, k, f)}
     * @return {@code γ ⊙ (β − target)}
     */
    public NDArray lossShift(NDArray target) {
        return InnerMath.lossShift(target, gamma, beta);
    }

    /**
     * Returns whether the inner model has a hidden layer (TTT-MLP).
     *
     * @return true for TTT-MLP
     */
    public boolean hasHiddenLayer() {
        return depth > 1;
    }

    /**
     * One mini-batch in the dual form: the outputs of all {@code k} tokens with a handful of matrix
     * products, without materialising the per-token weights (spec §1.4, §1.6):
     *
     * <pre>
     * Z̄_l  = X̄_l W_l − (tril(E) ⊙ (X̄_l X_lᵀ)) G_l      (X̄_0 = [XQ, 1], X̄_1 = [gelu(Z̄_0), 1])
     * W_l' = W_l − X_lᵀ (e ⊙ G_l)                        (e: last row of E)
     * </pre>
     *
     * With the homogeneous inputs, {@code X̄ Xᵀ} is the paper's {@code Q Kᵀ} plus one: the
     * per-token bias {@code b − tril(E) G} is folded into the same product, and the update of
     * {@code b} into that of {@code W}.
     *
     * @param state the weights at the start of the mini-batch; must have no pending gradients
     * @param batch the mini-batch, built with {@link MiniBatch#dual}
     * @param inPlace whether the weights may be updated in place: only when the scan made them (no
     *     caller holds them) and nothing records gradients. Saves allocating a new weight array per
     *     mini-batch (800 KB per TTT-MLP layer at the 125m shape, whose fresh pages cost more than
     *     the subtraction)
     * @return the pre-norm outputs {@code Z̄} {@code (N, k, f)} and the next state
     */
    public Step dualStep(FastWeights state, MiniBatch batch, boolean inPlace) {
        if (state.hasPendingGradients()) {
            throw new IllegalStateException(
                    "the dual form starts at a mini-batch boundary; use the primal form");
        }
        // the first layer sees the training view [XK, 1] and the test view [XQ, 1] in one product
        NDList both = keysAndQueries(batch.keyQuery.matMul(state.layer(0)));
        TrainingView view = trainingView(state, both.get(0), batch);

        NDArray output = both.get(1).sub(batch.queryKeyEta.matMul(view.gradients[0]));
        for (int l = 1; l < depth; l++) {
            NDArray testInput = withOnes(InnerMath.geluTanh(output, scalars));
            NDArray mixing = batch.trilEta.mul(testInput.matMul(view.transposedInputs[l]));
            output = testInput.matMul(state.layer(l)).sub(mixing.matMul(view.gradients[l]));
        }

        NDArray[] updates = new NDArray[depth];
        for (int l = 0; l < depth; l++) {
            updates[l] = view.transposedInputs[l].matMul(view.gradients[l].mul(batch.updateRate));
        }
        NDArray[] layers = new NDArray[depth];
        for (int l = 0; l < depth; l++) {
            if (!batch.completes) {
                layers[l] = state.layer(l);
            } else if (inPlace) {
                layers[l] = state.layer(l).subi(updates[l]);
            } else {
                layers[l] = state.layer(l).sub(updates[l]);
            }
        }
        return new Step(output, new FastWeights(layers, batch.completes ? null : updates));
    }

    /**
     * Tokens in the primal form: each token's own weights {@code W̄_n} are materialised and applied
     * (spec §1.5). This is the recurrent form used to decode one token at a time; it can start
     * anywhere inside a mini-batch, continuing the pending gradients:
     *
     * <pre>
     * gW_n = gW + Σ_{j≤n} lr_j X_jᵀ G_j       W̄_n = W − tok_n gW_n       Z̄_n = X̄_n W̄_n
     * </pre>
     *
     * At the end of a mini-batch the state becomes {@code W̄_{k−1}} with no pending gradient;
     * otherwise the boundary weights stay and {@code gW_{k−1}} is kept. A single token (a decode
     * step) takes a shorter path that never forms {@code W̄} unless its mini-batch ends ({@link
     * #oneToken}); the result is the same up to rounding.
     *
     * @param state the weights at the last boundary and the pending gradients
     * @param batch the tokens, built with {@link MiniBatch#primal}
     * @return the pre-norm outputs {@code Z̄} {@code (N, k, f)} and the next state
     */
    public Step primalStep(FastWeights state, MiniBatch batch) {
        int k = batch.tokens;
        if (k == 1) {
            // one read of W_0 for both views, as in the dual form
            NDList both = keysAndQueries(batch.keyQuery.matMul(state.layer(0)));
            TrainingView view = trainingView(state, both.get(0), batch);
            return oneToken(state, batch, view, both.get(1));
        }
        NDList views = keysAndQueries(batch.keyQuery);
        TrainingView view = trainingView(state, views.get(0).matMul(state.layer(0)), batch);
        NDArray tokenFactor = batch.tokenFactor.expandDims(-1);

        NDArray testInput = views.get(1);
        NDArray output = null;
        NDArray[] lastWeights = new NDArray[depth];
        NDArray[] lastGradients = new NDArray[depth];
        for (int l = 0; l < depth; l++) {
            NDArray input = view.transposedInputs[l].transpose(0, 2, 1);
            NDArray scaled = view.gradients[l].mul(batch.learningRate);
            // per-token outer products X_jᵀ G_j: a broadcast product, not a batched matMul with an
            // inner size of 1 (one tiny GEMM call per row and token: 146 µs against ~30 per
            // TTT-MLP decode step); each element is the same single product either way
            NDArray gradient = input.expandDims(3).mul(scaled.expandDims(2));
            if (k > 1) {
                gradient = gradient.cumSum(1); // one token: a copy of 100+ µs for nothing
            }
            if (state.hasPendingGradients()) {
                gradient = gradient.add(state.pendingGradient(l).expandDims(1));
            }
            NDArray tokenWeights = state.layer(l).expandDims(1).sub(gradient.mul(tokenFactor));
            output = testInput.expandDims(2).matMul(tokenWeights).squeeze(2);
            if (l < depth - 1) {
                testInput = withOnes(InnerMath.geluTanh(output, scalars));
            }
            NDIndex lastToken = new NDIndex().addAllDim().addIndices(k - 1);
            lastWeights[l] = tokenWeights.get(lastToken);
            lastGradients[l] = gradient.get(lastToken);
        }
        return new Step(output, settle(state, lastWeights, lastGradients, batch));
    }

    /**
     * The primal form for a single token (a decode step), without materialising its weights {@code
     * W̄ = W − tok · gW}. The pending gradient of the tokens of this mini-batch so far is a sum of
     * rank-1 terms, kept as factors in the state ({@link FastWeights#withTokenTerms}: their inputs
     * {@code X_j} and scaled gradients {@code lr_j G_j}), on top of a full sum from before if a
     * prefill ended inside the mini-batch:
     *
     * <pre>
     * Z̄_l = X̄_l W_l − tok · (X̄_l gW_sum + (X̄_l X_jᵀ) (lr_j G_j))     j: this mini-batch's tokens
     * </pre>
     *
     * A step reads {@code j ≤ b} factor rows instead of writing and reading the per-token weights
     * and a new pending sum (the general path writes four arrays of about 200k elements per TTT-MLP
     * layer and token at the 125m shape). {@code W̄} is formed only when the token ends its
     * mini-batch and becomes the next boundary state. Rows at different offsets ({@code
     * completesPerRow}) take {@link #oneTokenPerRow}.
     *
     * @param firstProduct {@code X̄_0 W_0}, computed with the training view's {@code X_0 W_0}
     */
    private Step oneToken(
            FastWeights state, MiniBatch batch, TrainingView view, NDArray firstProduct) {
        if (batch.completesPerRow != null) {
            return oneTokenPerRow(state, batch, view, firstProduct);
        }
        NDArray testInput = keysAndQueries(batch.keyQuery).get(1); // X̄_0 = [XQ, 1], (N, 1, in)
        NDArray output = null;
        NDArray[] sums = new NDArray[depth];
        NDArray[] inputs = new NDArray[depth];
        NDArray[] gradients = new NDArray[depth];
        for (int l = 0; l < depth; l++) {
            // this token's term joins the pending ones as factors: inputs (N, j, in), lr G (N, j,
            // out)
            NDArray input = view.transposedInputs[l].transpose(0, 2, 1);
            NDArray scaled = view.gradients[l].mul(batch.learningRate);
            inputs[l] = appendToken(state.tokenInputs(l), input);
            gradients[l] = appendToken(state.tokenGradients(l), scaled);
            sums[l] = state.pendingSum(l);
            // X̄ gW = X̄ gW_sum + (X̄ X_jᵀ) (lr_j G_j), the j tokens of this mini-batch so far
            NDArray throughGradients =
                    testInput.matMul(inputs[l].transpose(0, 2, 1)).matMul(gradients[l]);
            if (sums[l] != null) {
                throughGradients = throughGradients.add(testInput.matMul(sums[l]));
            }
            NDArray product = l == 0 ? firstProduct : testInput.matMul(state.layer(l));
            output = product.sub(throughGradients.mul(batch.tokenFactor));
            if (l < depth - 1) {
                testInput = withOnes(InnerMath.geluTanh(output, scalars));
            }
        }
        NDArray[] layers = new NDArray[depth];
        for (int l = 0; l < depth; l++) {
            layers[l] = state.layer(l);
        }
        FastWeights next =
                FastWeights.withTokenTerms(
                        layers, sums[0] == null ? null : sums, inputs, gradients);
        if (!batch.completes) {
            return new Step(output, next);
        }
        // the token ends its mini-batch: W̄ = W − tok · gW becomes the boundary state
        NDArray[] boundary = new NDArray[depth];
        for (int l = 0; l < depth; l++) {
            boundary[l] = layers[l].sub(next.pendingGradient(l).mul(batch.tokenFactor));
        }
        return new Step(output, new FastWeights(boundary, null));
    }

    /** {@code factors} with one more token row, {@code (N, j + 1, ·)}. */
    private static NDArray appendToken(NDArray factors, NDArray token) {
        return factors == null ? token : NDArrays.concat(new NDList(factors, token), 1);
    }

    /**
     * {@link #oneToken} for rows at different offsets inside their mini-batches: the rows that end
     * theirs need {@code W̄}, the others keep a full pending sum (the per-row blend of {@link
     * #settle}).
     */
    private Step oneTokenPerRow(
            FastWeights state, MiniBatch batch, TrainingView view, NDArray firstProduct) {
        NDArray testInput = keysAndQueries(batch.keyQuery).get(1); // X̄_0 = [XQ, 1], (N, 1, in)
        NDArray output = null;
        NDArray[] lastWeights = new NDArray[depth];
        NDArray[] lastGradients = new NDArray[depth];
        for (int l = 0; l < depth; l++) {
            NDArray inputColumn = view.transposedInputs[l]; // X_lᵀ, (N, in, 1)
            NDArray scaled = view.gradients[l].mul(batch.learningRate); // lr G_l, (N, 1, out)
            NDArray throughGradients = testInput.matMul(inputColumn).mul(scaled);
            NDArray gradient = inputColumn.mul(scaled); // the outer product X_lᵀ (lr G_l)
            if (state.hasPendingGradients()) {
                NDArray pending = state.pendingGradient(l);
                throughGradients = throughGradients.add(testInput.matMul(pending));
                gradient = gradient.add(pending);
            }
            NDArray product = l == 0 ? firstProduct : testInput.matMul(state.layer(l));
            output = product.sub(throughGradients.mul(batch.tokenFactor));
            if (l < depth - 1) {
                testInput = withOnes(InnerMath.geluTanh(output, scalars));
            }
            lastGradients[l] = gradient;
            lastWeights[l] = state.layer(l).sub(gradient.mul(batch.tokenFactor));
        }
        return new Step(output, settle(state, lastWeights, lastGradients, batch));
    }

    /**
     * The forward of the training view through the inner model and the gradient of the inner loss
     * with respect to every dense layer's output (spec §1.3, §1.6).
     *
     * @param firstOutput {@code [XK, 1] W_0}, already computed
     */
    private TrainingView trainingView(FastWeights state, NDArray firstOutput, MiniBatch batch) {
        NDArray[] transposedInputs = new NDArray[depth];
        NDArray[] preActivations = new NDArray[depth];
        NDArray[] slopes = new NDArray[depth]; // gelu'(Z_l) of the hidden layers
        transposedInputs[0] = batch.keyTransposed;
        preActivations[0] = firstOutput;
        for (int l = 1; l < depth; l++) {
            InnerMath.Gelu gelu = InnerMath.geluTanhWithDerivative(preActivations[l - 1], scalars);
            slopes[l - 1] = gelu.derivative();
            NDArray input = withOnes(gelu.value());
            transposedInputs[l] = input.transpose(0, 2, 1);
            preActivations[l] = input.matMul(state.layer(l));
        }
        NDArray[] gradients = new NDArray[depth];
        gradients[depth - 1] =
                InnerMath.layerNormL2Backward(
                        preActivations[depth - 1], batch.lossShift, gammaSquared, scalars);
        for (int l = depth - 2; l >= 0; l--) {
            // G W_rowsᵀ computed as (W_rows Gᵀ)ᵀ: about 1.7× faster for these small batched
            // products than multiplying by a transposed slice
            gradients[l] =
                    weightRows(state.layer(l + 1))
                            .matMul(gradients[l + 1].transpose(0, 2, 1))
                            .transpose(0, 2, 1)
                            .mul(slopes[l]);
        }
        return new TrainingView(transposedInputs, gradients);
    }

    /**
     * The inner loss of given weights on a block of tokens, for {@link InnerLossStats}: the mean of
     * {@code (LN_h(f([XK, 1]; W)) − (XV − XK))²} over rows, tokens and features. Computed on
     * detached copies of the weights, so it adds nothing to the outer loop's gradients.
     *
     * @param weights the inner weights; pending gradients are ignored
     * @param keys the homogeneous training view {@code [XK, 1]}, {@code (N, k, f + 1)}
     * @param target {@code XV − XK}, {@code (N, k, f)}
     * @return a scalar
     */
    public NDArray reconstructionLoss(FastWeights weights, NDArray keys, NDArray target) {
        NDArray z = keys.stopGradient().matMul(weights.layer(0).stopGradient());
        for (int l = 1; l < depth; l++) {
            z = withOnes(InnerMath.geluTanh(z, scalars)).matMul(weights.layer(l).stopGradient());
        }
        return InnerMath.layerNorm(z, gamma.stopGradient(), beta.stopGradient())
                .sub(target.stopGradient())
                .square()
                .mean();
    }

    /** Chooses the primal-form next state: the last token's weights at a boundary, else pending. */
    private FastWeights settle(
            FastWeights state, NDArray[] lastWeights, NDArray[] lastGradients, MiniBatch batch) {
        NDArray[] layers = new NDArray[depth];
        if (batch.completesPerRow != null) {
            // rows at different offsets: blend with a 0/1 mask (exact for 0 and 1)
            NDArray done = batch.completesPerRow;
            NDArray pending = scalars.one().sub(done);
            NDArray[] gradients = new NDArray[depth];
            for (int l = 0; l < depth; l++) {
                layers[l] = lastWeights[l].mul(done).add(state.layer(l).mul(pending));
                gradients[l] = lastGradients[l].mul(pending);
            }
            return new FastWeights(layers, gradients);
        }
        if (batch.completes) {
            return new FastWeights(lastWeights, null);
        }
        for (int l = 0; l < depth; l++) {
            layers[l] = state.layer(l);
        }
        return new FastWeights(layers, lastGradients);
    }

    /**
     * The weight rows of a homogeneous layer, without its bias row. A split, not a slice: under
     * autograd a slice's backward zero-fills a gradient of the whole layer and copies into it, a
     * split's backward is one concatenation.
     */
    private static NDArray weightRows(NDArray layer) {
        long rows = layer.getShape().get(1);
        return layer.split(new long[] {rows - 1}, 1).get(0);
    }

    /**
     * Cuts an array stacked over the two views, {@code [XK; XQ]} or the first layer's outputs on
     * them {@code (N, 2k, ·)}, into the training view's and the test view's {@code (N, k, ·)}: one
     * op instead of two slices, and one concatenation instead of two zero-filled copies in the
     * backward.
     */
    private static NDList keysAndQueries(NDArray stacked) {
        return stacked.split(2, 1);
    }

    /** {@code [x, 1]}: a padding op, over 3× faster here than concatenating a column of ones. */
    private static NDArray withOnes(NDArray x) {
        return x.pad(ONE_MORE_COLUMN, 1.0);
    }

    /** Each dense layer's input, transposed ({@code X_lᵀ}), and its output gradient {@code G_l}. */
    private record TrainingView(NDArray[] transposedInputs, NDArray[] gradients) {}

    /**
     * The result of one step.
     *
     * @param output the pre-norm outputs {@code Z̄} of the step's tokens, {@code (N, k, f)}
     * @param next the state after the step's tokens
     */
    public record Step(NDArray output, FastWeights next) {}
}
