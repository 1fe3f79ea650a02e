package ai.djl.ttt.nn.inner;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The only sequential part of a TTT layer: the loop over mini-batches that carries the inner
 * weights from one mini-batch to the next (spec §1.2.7, §1.7).
 *
 * <p>A chunk of {@code T} tokens that starts at absolute position {@code s} is cut at the
 * mini-batch boundaries (multiples of {@code b}) into at most three groups:
 *
 * <ol>
 *   <li>a head that finishes the mini-batch the state is in (only when {@code s mod b ≠ 0}), always
 *       in the primal form because it continues pending gradients;
 *   <li>{@code n} full mini-batches;
 *   <li>a tail of {@code r < b} tokens that starts a mini-batch and leaves its gradients pending.
 * </ol>
 *
 * <p>Everything that does not depend on the inner weights is computed for a whole group before its
 * loop, in batched ops: the η matrices {@code E[i,j] = tok_i · lr_j}, {@code tril(E)} and {@code
 * tril(E) ⊙ (XQ XKᵀ + 1)}. Each loop iteration runs in its own {@link NDScope}, so intermediates
 * are freed as the loop goes, and a state is closed as soon as the next one replaces it.
 */
public final class Scan {

    private final InnerModel model;
    private final int miniBatchSize;
    private final InnerForm form;

    /**
     * Creates a scan.
     *
     * @param model the inner model of this forward pass
     * @param miniBatchSize b
     * @param form the form of full and tail mini-batches
     */
    public Scan(InnerModel model, int miniBatchSize, InnerForm form) {
        this.model = model;
        this.miniBatchSize = miniBatchSize;
        this.form = form;
    }

    /**
     * Runs the inner loop over a chunk.
     *
     * @param state the state before the chunk (not closed by the scan)
     * @param inputs the chunk's per-token inputs
     * @param starts the absolute position of the chunk's first token: one value for all rows, or
     *     one per row (then the chunk must be a single token)
     * @return the pre-norm outputs {@code Z̄} {@code (B, T, H, f)} and the state after the chunk
     */
    public Result run(FastWeights state, Inputs inputs, long[] starts) {
        if (starts.length > 1) {
            return runPerRow(state, inputs, starts);
        }
        int length = Math.toIntExact(inputs.query().getShape().get(1));
        int offset = (int) (starts[0] % miniBatchSize);
        if (offset == 0 && state.hasPendingGradients()) {
            // at a boundary the pending gradients are zero (spec §3)
            state = new FastWeights(state.weights().toArray(new NDArray[0]), null);
        }
        FastWeights initial = state;
        List<NDArray> outputs = new ArrayList<>();
        int t = 0;
        if (offset != 0) {
            int k = Math.min(length, miniBatchSize - offset);
            Group head = new Group(inputs, t, 1, k, offset, offset + k == miniBatchSize);
            state = head.run(state, InnerForm.PRIMAL, outputs, initial);
            t += k;
        }
        int full = (length - t) / miniBatchSize;
        if (full > 0) {
            Group body = new Group(inputs, t, full, miniBatchSize, 0, true);
            state = body.run(state, form, outputs, initial);
            t += full * miniBatchSize;
        }
        if (t < length) {
            Group tail = new Group(inputs, t, 1, length - t, 0, false);
            state = tail.run(state, form, outputs, initial);
        }
        NDArray output =
                outputs.size() == 1 ? outputs.get(0) : NDArrays.concat(new NDList(outputs), 1);
        return new Result(output, state);
    }

    /** One token per row, each row at its own offset inside its mini-batch: the primal form. */
    private Result runPerRow(FastWeights state, Inputs inputs, long[] starts) {
        if (inputs.query().getShape().get(1) != 1) {
            throw new IllegalArgumentException(
                    "rows at different positions "
                            + Arrays.toString(starts)
                            + " can only advance one token at a time, got "
                            + inputs.query().getShape().get(1)
                            + " tokens");
        }
        NDManager manager = inputs.query().getManager();
        int rows = starts.length;
        float[] oneHot = new float[rows * miniBatchSize];
        float[] completes = new float[rows];
        for (int r = 0; r < rows; r++) {
            int offset = (int) (starts[r] % miniBatchSize);
            oneHot[r * miniBatchSize + offset] = 1;
            completes[r] = offset == miniBatchSize - 1 ? 1 : 0;
        }
        NDArray tokenFactor =
                Constants.of(manager, oneHot, new Shape(rows, miniBatchSize), inputs.query())
                        .matMul(inputs.tokenFactors())
                        .reshape(rows, 1, 1, 1);
        NDArray completesPerRow =
                Constants.of(manager, completes, new Shape(rows, 1, 1, 1), inputs.query());
        MiniBatch batch =
                MiniBatch.primal(
                        inputs.query().transpose(0, 2, 1, 3),
                        inputs.key().transpose(0, 2, 1, 3),
                        inputs.target().transpose(0, 2, 1, 3),
                        inputs.learningRate().transpose(0, 2, 1).expandDims(3),
                        tokenFactor,
                        false,
                        completesPerRow);
        InnerModel.Step step = model.primalStep(state, batch);
        return new Result(step.output().transpose(0, 2, 1, 3), step.next());
    }

    /**
     * {@code n} mini-batches of {@code k} tokens each that all start at offset {@code o}, laid out
     * {@code (n, B, H, k, ·)} so that mini-batch {@code m} is a contiguous slice.
     */
    private final class Group {
        private final NDArray query;
        private final NDArray key;
        private final NDArray target;
        private final NDArray learningRate;
        private final NDArray tokenFactor;
        private final int count;
        private final int offset;
        private final boolean completes;

        Group(Inputs in, int start, int count, int k, int offset, boolean completes) {
            this.count = count;
            this.offset = offset;
            this.completes = completes;
            query = split(in.query(), start, count, k);
            key = split(in.key(), start, count, k);
            target = split(in.target(), start, count, k);
            // (B, T, H) -> (n, B, H, k, 1): lr_j of each key token
            NDArray lr = in.learningRate().get(":, {}:{}", start, start + count * k);
            Shape s = lr.getShape();
            learningRate =
                    lr.reshape(s.get(0), count, k, s.get(2)).transpose(1, 0, 3, 2).expandDims(4);
            tokenFactor = in.tokenFactors().get("{}:{}", offset, offset + k).reshape(k, 1);
        }

        FastWeights run(
                FastWeights state, InnerForm form, List<NDArray> outputs, FastWeights initial) {
            boolean dual = form == InnerForm.DUAL && offset == 0;
            NDArray trilEta = null;
            NDArray queryKeyEta = null;
            NDArray updateRate = null;
            if (dual) {
                long k = tokenFactor.getShape().get(0);
                // E[i,j] = tok_i · lr_j  (spec §1.2.6): token factor on rows, learned lr on columns
                NDArray eta = tokenFactor.mul(learningRate.transpose(0, 1, 2, 4, 3));
                trilEta = eta.mul(causalMask(k));
                queryKeyEta = trilEta.mul(query.matMul(key.transpose(0, 1, 2, 4, 3)).add(1));
                // the end-of-mini-batch update uses the last ROW of E (spec §14.2)
                updateRate = completes ? learningRate.mul(tokenFactor.get(k - 1)) : learningRate;
            }
            List<NDArray> steps = new ArrayList<>();
            for (int m = 0; m < count; m++) {
                InnerModel.Step step;
                try (NDScope scope = new NDScope()) {
                    step =
                            dual
                                    ? model.dualStep(
                                            state,
                                            MiniBatch.dual(
                                                    query.get(m),
                                                    key.get(m),
                                                    target.get(m),
                                                    trilEta.get(m),
                                                    queryKeyEta.get(m),
                                                    updateRate.get(m),
                                                    completes))
                                    : model.primalStep(
                                            state,
                                            MiniBatch.primal(
                                                    query.get(m),
                                                    key.get(m),
                                                    target.get(m),
                                                    learningRate.get(m),
                                                    tokenFactor,
                                                    completes,
                                                    null));
                    NDScope.unregister(step.output());
                    NDScope.unregister(step.next().arrays());
                    scope.suppressNotUsedWarning();
                }
                keepInEnclosingScope(step.output());
                for (NDArray array : step.next().arrays()) {
                    if (!contains(state.arrays(), array)) {
                        keepInEnclosingScope(array);
                    }
                }
                closeReplaced(state, step.next(), initial);
                steps.add(step.output());
                state = step.next();
            }
            // (n, B, H, k, f) -> (B, n·k, H, f)
            NDArray stacked = NDArrays.stack(new NDList(steps), 0);
            Shape s = stacked.getShape();
            outputs.add(
                    stacked.transpose(1, 0, 3, 2, 4)
                            .reshape(s.get(1), s.get(0) * s.get(3), s.get(2), s.get(4)));
            return state;
        }

        private NDArray split(NDArray x, int start, int n, int k) {
            Shape s = x.getShape(); // (B, T, H, f)
            return x.get(":, {}:{}", start, start + n * k)
                    .reshape(s.get(0), n, k, s.get(2), s.get(3))
                    .transpose(1, 0, 3, 2, 4);
        }

        private NDArray causalMask(long k) {
            float[] mask = new float[(int) (k * k)];
            for (int i = 0; i < k; i++) {
                for (int j = 0; j <= i; j++) {
                    mask[(int) (i * k + j)] = 1;
                }
            }
            NDManager manager = query.getManager();
            return Constants.of(manager, mask, new Shape(k, k), query);
        }
    }

    /** Closes the arrays of a replaced state, except those still in use or owned by the caller. */
    private static void closeReplaced(FastWeights replaced, FastWeights next, FastWeights initial) {
        for (NDArray array : replaced.arrays()) {
            if (!contains(next.arrays(), array) && !contains(initial.arrays(), array)) {
                array.close();
            }
        }
    }

    private static void keepInEnclosingScope(NDArray array) {
        NDScope.register(array);
    }

    private static boolean contains(NDArray[] arrays, NDArray array) {
        for (NDArray a : arrays) {
            if (a == array) {
                return true;
            }
        }
        return false;
    }

    /**
     * The per-token inputs of the inner loop for one chunk.
     *
     * @param query XQ after RoPE, the test view {@code (B, T, H, f)}
     * @param key XK after RoPE, the training view {@code (B, T, H, f)}
     * @param target the reconstruction target {@code XV − XK}, {@code (B, T, H, f)}
     * @param learningRate {@code lr = η_base σ(x·w_h + c_h) / f} per token and head, {@code (B, T,
     *     H)}
     * @param tokenFactors {@code tok = max(1/(i+1) + learnable_token_idx, 0)}, {@code (b)}
     */
    public record Inputs(
            NDArray query,
            NDArray key,
            NDArray target,
            NDArray learningRate,
            NDArray tokenFactors) {}

    /**
     * The outputs of a scan.
     *
     * @param output the pre-norm outputs {@code Z̄} of every token, {@code (B, T, H, f)}
     * @param state the state after the chunk
     */
    public record Result(NDArray output, FastWeights state) {}
}
