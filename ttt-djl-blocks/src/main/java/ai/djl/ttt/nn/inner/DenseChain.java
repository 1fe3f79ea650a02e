package ai.djl.ttt.nn.inner;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.initializer.Initializer;
import ai.djl.training.initializer.NormalInitializer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The inner model as a chain of dense layers {@code Z_l = X_l W_l + b_l} with a tanh-GELU between
 * them: one layer for TTT-Linear ({@code f → f}), two for TTT-MLP ({@code f → 4f → f}), or any
 * hidden widths the configuration sets ({@code f → h_1 → … → f}). Its output goes through the
 * per-head LayerNorm of the {@link ReconstructionLoss}. Every formula below holds per dense layer,
 * which is how all depths share one implementation: a hidden layer only adds the chain rule through
 * the GELU, {@code G_l = (G_{l+1} W_{l+1}ᵀ) ⊙ gelu'(Z_l)} (reference.md §1.6).
 *
 * <p>Inputs of a dense layer carry a trailing 1 and weights their bias as a last row ({@link
 * FastWeights}), so {@code X W + b} is one product {@code [X, 1] [W; b]}.
 */
public final class DenseChain implements InnerModel {

    /** Standard deviation of W1, W2, … at initialisation, hard-coded 0.02 in {@code ttt.py}. */
    private static final float INIT_STD = 0.02f;

    /** Pads the last axis with one value after its end. */
    private static final Shape ONE_MORE_COLUMN = new Shape(0, 1);

    private final int[] widths;
    private final int depth;

    /**
     * Creates the chain {@code f → h_1 → … → f}.
     *
     * @param headDim f, the width of its input and output
     * @param hiddenWidths the widths of the hidden layers, none for a linear inner model
     * @throws IllegalArgumentException if a width is not positive
     */
    public DenseChain(int headDim, List<Integer> hiddenWidths) {
        widths = new int[hiddenWidths.size() + 2];
        widths[0] = headDim;
        for (int i = 0; i < hiddenWidths.size(); i++) {
            widths[i + 1] = hiddenWidths.get(i);
        }
        widths[widths.length - 1] = headDim;
        for (int w : widths) {
            if (w < 1) {
                throw new IllegalArgumentException(
                        "inner model widths must be >= 1, got " + Arrays.toString(widths));
            }
        }
        depth = widths.length - 1;
    }

    /**
     * Returns the widths of the chain, input to output.
     *
     * @return {@code [f, h_1, …, f]}
     */
    public int[] widths() {
        return widths.clone();
    }

    /** {@inheritDoc} */
    @Override
    public int depth() {
        return depth;
    }

    /**
     * {@inheritDoc}
     *
     * <p>{@code W_l (H, w_{l−1}, w_l)} drawn from N(0, 0.02²) and {@code b_l (H, 1, w_l)} zero, as
     * {@code TTTLinear}/{@code TTTMLP} (reference.md §1.1), named {@code W1, b1, W2, b2, …}.
     */
    @Override
    public List<Weight> weights(int heads) {
        List<Weight> weights = new ArrayList<>();
        for (int l = 0; l < depth; l++) {
            Shape weight = new Shape(heads, widths[l], widths[l + 1]);
            Shape bias = new Shape(heads, 1, widths[l + 1]);
            weights.add(new Weight("W" + (l + 1), weight, false, new NormalInitializer(INIT_STD)));
            weights.add(new Weight("b" + (l + 1), bias, true, Initializer.ZEROS));
        }
        return weights;
    }

    /** {@inheritDoc} */
    @Override
    public FastWeights initialState(List<NDArray> weights, long batch) {
        NDArray[] layers = new NDArray[depth];
        for (int l = 0; l < depth; l++) {
            // [W; b], tiled over the batch: (H, f_in + 1, f_out) -> (B·H, f_in + 1, f_out)
            NDArray homogeneous =
                    NDArrays.concat(new NDList(weights.get(2 * l), weights.get(2 * l + 1)), 1);
            Shape h = homogeneous.getShape();
            layers[l] =
                    homogeneous
                            .expandDims(0)
                            .broadcast(new Shape(batch).addAll(h))
                            .reshape(batch * h.get(0), h.get(1), h.get(2));
        }
        return new FastWeights(layers, null);
    }

    /**
     * {@inheritDoc}
     *
     * <pre>
     * Z̄_l  = X̄_l W_l − (tril(E) ⊙ (X̄_l X_lᵀ)) G_l      (X̄_0 = [XQ, 1], X̄_l = [gelu(Z̄_{l−1}), 1])
     * W_l' = W_l − X_lᵀ (e ⊙ G_l)                        (e: last row of E)
     * </pre>
     *
     * With the homogeneous inputs, {@code X̄ Xᵀ} is the paper's {@code Q Kᵀ} plus one: the
     * per-token bias {@code b − tril(E) G} is folded into the same product, and the update of
     * {@code b} into that of {@code W}. In place, the update saves a new weight array per
     * mini-batch (800 KB per TTT-MLP layer at the 125m shape, whose fresh pages cost more than the
     * subtraction).
     */
    @Override
    public Step dualStep(
            FastWeights state, MiniBatch batch, InnerOptimizer optimizer, boolean inPlace) {
        ReconstructionLoss loss = batch.loss();
        if (state.hasPendingGradients()) {
            throw new IllegalStateException(
                    "the dual form starts at a mini-batch boundary; use the primal form");
        }
        // the first layer sees the training view [XK, 1] and the test view [XQ, 1] in one product
        NDList both = keysAndQueries(batch.keyQuery().matMul(state.layer(0)));
        TrainingView view = trainingView(state, null, both.get(0), batch);

        NDArray output = both.get(1).sub(batch.queryKeyEta().matMul(view.gradients[0]));
        for (int l = 1; l < depth; l++) {
            NDArray testInput = hiddenInput(output, loss);
            NDArray mixing = optimizer.mixing(batch.trilEta(), testInput, view.transposedInputs[l]);
            output = testInput.matMul(state.layer(l)).sub(mixing.matMul(view.gradients[l]));
        }
        FastWeights next =
                optimizer.dualUpdate(
                        state,
                        view.transposedInputs,
                        view.gradients,
                        batch.updateRate(),
                        batch.completes(),
                        inPlace);
        return new Step(output, next);
    }

    /**
     * {@inheritDoc}
     *
     * <p>Each token's own weights {@code W̄_n} are materialised and applied:
     *
     * <pre>
     * gW_n = gW + Σ_{j≤n} lr_j X_jᵀ G_j       W̄_n = W − tok_n gW_n       Z̄_n = X̄_n W̄_n
     * </pre>
     *
     * At the end of a mini-batch the state becomes {@code W̄_{k−1}} with no pending gradient;
     * otherwise the boundary weights stay and {@code gW_{k−1}} is kept. A single token (a decode
     * step) takes a shorter path that never forms {@code W̄} unless its mini-batch ends ({@link
     * #oneToken}); the result is the same up to rounding.
     */
    @Override
    public Step primalStep(FastWeights state, MiniBatch batch, InnerOptimizer optimizer) {
        ReconstructionLoss loss = batch.loss();
        int k = batch.tokens();
        NDList views = keysAndQueries(batch.keyQuery()); // X_0 = [XK, 1], X̄_0 = [XQ, 1]
        if (k == 1) {
            // one read of W_0 for both views, as in the dual form
            NDList both = keysAndQueries(batch.keyQuery().matMul(state.layer(0)));
            TrainingView view = trainingView(state, views.get(0), both.get(0), batch);
            return oneToken(state, batch, view, views.get(1), both.get(1), optimizer);
        }
        TrainingView view =
                trainingView(state, views.get(0), views.get(0).matMul(state.layer(0)), batch);
        NDArray tokenFactor = batch.tokenFactor().expandDims(-1);

        NDArray testInput = views.get(1);
        NDArray output = null;
        NDArray[] lastWeights = new NDArray[depth];
        NDArray[] lastGradients = new NDArray[depth];
        for (int l = 0; l < depth; l++) {
            NDArray input = view.input(l);
            NDArray scaled = optimizer.scaledGradient(view.gradients[l], batch.learningRate());
            NDArray pending = state.hasPendingGradients() ? state.pendingGradient(l) : null;
            NDArray gradient = optimizer.pendingGradients(input, scaled, pending);
            NDArray tokenWeights =
                    optimizer.tokenWeights(state.layer(l).expandDims(1), gradient, tokenFactor);
            output = testInput.expandDims(2).matMul(tokenWeights).squeeze(2);
            if (l < depth - 1) {
                testInput = hiddenInput(output, loss);
            }
            NDIndex lastToken = new NDIndex().addAllDim().addIndices(k - 1);
            lastWeights[l] = tokenWeights.get(lastToken);
            lastGradients[l] = gradient.get(lastToken);
        }
        return new Step(
                output,
                optimizer.settle(state, lastWeights, lastGradients, batch, loss.scalars().one()));
    }

    /**
     * The primal form for a single token (a decode step), without materialising its weights {@code
     * W̄ = W − tok · gW}. The pending gradient of the tokens of this mini-batch so far is a sum of
     * rank-1 terms, kept as factors in the state ({@link FastWeights#withPending(NDArray[],
     * NDArray[], NDArray[])}: their inputs {@code X_j} and scaled gradients {@code lr_j G_j}), on
     * top of a full sum from before if a prefill ended inside the mini-batch:
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
     * @param testInput {@code X̄_0 = [XQ, 1]}, {@code (N, 1, in)}
     * @param firstProduct {@code X̄_0 W_0}, computed with the training view's {@code X_0 W_0}
     */
    private Step oneToken(
            FastWeights state,
            MiniBatch batch,
            TrainingView view,
            NDArray testInput,
            NDArray firstProduct,
            InnerOptimizer optimizer) {
        ReconstructionLoss loss = batch.loss();
        if (batch.completesPerRow() != null) {
            return oneTokenPerRow(state, batch, view, testInput, firstProduct, optimizer);
        }
        NDArray output = null;
        NDArray[] sums = new NDArray[depth];
        NDArray[] inputs = new NDArray[depth];
        NDArray[] gradients = new NDArray[depth];
        for (int l = 0; l < depth; l++) {
            // this token's term joins the pending ones as factors: inputs (N, j, in), lr G (N, j,
            // out)
            NDArray input = view.input(l);
            NDArray scaled = optimizer.scaledGradient(view.gradients[l], batch.learningRate());
            inputs[l] = appendToken(state.tokenInputs(l), input);
            gradients[l] = appendToken(state.tokenGradients(l), scaled);
            sums[l] = state.pendingSum(l);
            // X̄ gW = X̄ gW_sum + (X̄ X_jᵀ) (lr_j G_j), the j tokens of this mini-batch so far
            NDArray throughPending =
                    testInput.matMul(inputs[l].transpose(0, 2, 1)).matMul(gradients[l]);
            if (sums[l] != null) {
                throughPending = throughPending.add(testInput.matMul(sums[l]));
            }
            NDArray product = l == 0 ? firstProduct : testInput.matMul(state.layer(l));
            output = optimizer.throughTokenWeights(product, throughPending, batch.tokenFactor());
            testInput = l < depth - 1 ? hiddenInput(output, loss) : null;
        }
        FastWeights next = state.withPending(sums[0] == null ? null : sums, inputs, gradients);
        if (!batch.completes()) {
            return new Step(output, next);
        }
        // the token ends its mini-batch: W̄ = W − tok · gW becomes the boundary state
        NDArray[] boundary = new NDArray[depth];
        for (int l = 0; l < depth; l++) {
            boundary[l] =
                    optimizer.tokenWeights(
                            state.layer(l), next.pendingGradient(l), batch.tokenFactor());
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
     * InnerOptimizer#settle}).
     */
    private Step oneTokenPerRow(
            FastWeights state,
            MiniBatch batch,
            TrainingView view,
            NDArray testInput,
            NDArray firstProduct,
            InnerOptimizer optimizer) {
        ReconstructionLoss loss = batch.loss();
        NDArray output = null;
        NDArray[] lastWeights = new NDArray[depth];
        NDArray[] lastGradients = new NDArray[depth];
        for (int l = 0; l < depth; l++) {
            NDArray inputColumn = view.transposedInputs[l]; // X_lᵀ, (N, in, 1)
            NDArray scaled = optimizer.scaledGradient(view.gradients[l], batch.learningRate());
            NDArray throughPending = testInput.matMul(inputColumn).mul(scaled);
            NDArray gradient = inputColumn.mul(scaled); // the outer product X_lᵀ (lr G_l)
            if (state.hasPendingGradients()) {
                NDArray pending = state.pendingGradient(l);
                throughPending = throughPending.add(testInput.matMul(pending));
                gradient = gradient.add(pending);
            }
            NDArray product = l == 0 ? firstProduct : testInput.matMul(state.layer(l));
            output = optimizer.throughTokenWeights(product, throughPending, batch.tokenFactor());
            testInput = l < depth - 1 ? hiddenInput(output, loss) : null;
            lastGradients[l] = gradient;
            lastWeights[l] = optimizer.tokenWeights(state.layer(l), gradient, batch.tokenFactor());
        }
        return new Step(
                output,
                optimizer.settle(state, lastWeights, lastGradients, batch, loss.scalars().one()));
    }

    /**
     * The forward of the training view through the chain and the gradient of the inner loss with
     * respect to every dense layer's output (reference.md §1.3, §1.6).
     *
     * @param firstInput {@code X_0 = [XK, 1]}, or {@code null} where only its transpose is needed
     * @param firstOutput {@code [XK, 1] W_0}, already computed
     */
    private TrainingView trainingView(
            FastWeights state, NDArray firstInput, NDArray firstOutput, MiniBatch batch) {
        ReconstructionLoss loss = batch.loss();
        NDArray[] inputs = new NDArray[depth];
        NDArray[] transposedInputs = new NDArray[depth];
        NDArray[] preActivations = new NDArray[depth];
        NDArray[] slopes = new NDArray[depth]; // gelu'(Z_l) of the hidden layers
        inputs[0] = firstInput;
        transposedInputs[0] = batch.keyTransposed();
        preActivations[0] = firstOutput;
        for (int l = 1; l < depth; l++) {
            InnerMath.Gelu gelu =
                    InnerMath.geluTanhWithDerivative(preActivations[l - 1], loss.scalars());
            slopes[l - 1] = gelu.derivative();
            NDArray input = withOnes(gelu.value());
            inputs[l] = input;
            transposedInputs[l] = input.transpose(0, 2, 1);
            preActivations[l] = input.matMul(state.layer(l));
        }
        NDArray[] gradients = new NDArray[depth];
        gradients[depth - 1] = loss.gradient(preActivations[depth - 1], batch.lossShift());
        for (int l = depth - 2; l >= 0; l--) {
            // G W_rowsᵀ computed as (W_rows Gᵀ)ᵀ: about 1.7× faster for these small batched
            // products than multiplying by a transposed slice
            gradients[l] =
                    weightRows(state.layer(l + 1))
                            .matMul(gradients[l + 1].transpose(0, 2, 1))
                            .transpose(0, 2, 1)
                            .mul(slopes[l]);
        }
        return new TrainingView(inputs, transposedInputs, gradients);
    }

    /** {@inheritDoc} */
    @Override
    public NDArray reconstructionError(
            FastWeights weights, NDArray keys, NDArray target, ReconstructionLoss loss) {
        NDArray z = keys.stopGradient().matMul(weights.layer(0).stopGradient());
        for (int l = 1; l < depth; l++) {
            z =
                    withOnes(InnerMath.geluTanh(z, loss.scalars()))
                            .matMul(weights.layer(l).stopGradient());
        }
        return loss.meanError(z, target);
    }

    /**
     * {@inheritDoc}
     *
     * <p>Per dense layer {@code a → o}: the training-view forward, the test-view forward and the
     * update ({@code 3 × 2ao}), the η-mixing products {@code X̄ Xᵀ} and {@code (·) G} ({@code 2ba +
     * 2bo}), and for every layer after the first the gradient back through its weights ({@code
     * 2ao}). TTT-Linear: {@code 6f² + 4bf}; TTT-MLP: {@code 56f² + 20bf}.
     */
    @Override
    public double flopsPerToken(int miniBatchSize) {
        double flops = 0;
        for (int l = 0; l < depth; l++) {
            double in = widths[l];
            double out = widths[l + 1];
            flops += 6 * in * out + 2.0 * miniBatchSize * (in + out);
            if (l > 0) {
                flops += 2 * in * out;
            }
        }
        return flops;
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

    /** The next dense layer's input {@code [gelu(Z), 1]}. */
    private static NDArray hiddenInput(NDArray output, ReconstructionLoss loss) {
        return withOnes(InnerMath.geluTanh(output, loss.scalars()));
    }

    /** {@code [x, 1]}: a padding op, over 3× faster here than concatenating a column of ones. */
    private static NDArray withOnes(NDArray x) {
        return x.pad(ONE_MORE_COLUMN, 1.0);
    }

    /**
     * Each dense layer's input {@code X_l} (where known), its transpose {@code X_lᵀ}, and its
     * output gradient {@code G_l}.
     */
    private record TrainingView(NDArray[] inputs, NDArray[] transposedInputs, NDArray[] gradients) {

        /** {@code X_l}, {@code (N, k, in)}: kept from the forward, or transposed back. */
        NDArray input(int l) {
            return inputs[l] != null ? inputs[l] : transposedInputs[l].transpose(0, 2, 1);
        }
    }
}
