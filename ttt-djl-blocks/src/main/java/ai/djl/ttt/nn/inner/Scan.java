package ai.djl.ttt.nn.inner;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ttt.runtime.ScanThreads;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The only sequential part of a TTT layer: the loop over mini-batches that carries the inner
 * weights from one mini-batch to the next (reference.md §1.2.7, §1.7).
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
 * A group of a single token (a decode step) always takes the primal form, whatever the form asked
 * for: both give the same outputs, and the primal form's one-token path is the cheaper one.
 *
 * <p>Everything that does not depend on the inner weights is computed for a whole group before its
 * loop, in a few large batched ops, laid out {@code (n, N, k, ·)} with heads folded into the batch
 * ({@code N = B·H}) so that mini-batch {@code m} is a contiguous slice: the homogeneous keys and
 * queries {@code [XK, 1]}, {@code [XQ, 1]}, the loss gradient's constant part {@code γ(β − (XV −
 * XK))}, the η matrices {@code E[i,j] = tok_i · lr_j}, {@code tril(E)} and {@code tril(E) ⊙ ([XQ,
 * 1] [XK, 1]ᵀ)}, and the update rates. Each loop iteration runs in its own {@link NDScope}, so
 * intermediates are freed as the loop goes, and a state is closed as soon as the next one replaces
 * it.
 */
public final class Scan {

    private final InnerModel model;
    private final ReconstructionLoss loss;
    private final InnerOptimizer optimizer;
    private final InnerForm form;
    private final boolean recordLoss;
    private final List<float[]> losses = new ArrayList<>();

    /**
     * Creates a scan that may also measure the inner loss of every full mini-batch ({@link
     * InnerLossStats}); measuring costs three extra forwards of the inner model per mini-batch.
     *
     * @param model the inner model
     * @param loss the reconstruction loss of this forward pass
     * @param optimizer the inner learner
     * @param form the form of full and tail mini-batches
     * @param recordLoss whether to measure the inner loss
     */
    public Scan(
            InnerModel model,
            ReconstructionLoss loss,
            InnerOptimizer optimizer,
            InnerForm form,
            boolean recordLoss) {
        this.model = model;
        this.loss = loss;
        this.optimizer = optimizer;
        this.form = form;
        this.recordLoss = recordLoss;
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
        int miniBatchSize = inputs.miniBatchSize();
        int offset = (int) (starts[0] % miniBatchSize);
        FastWeights initial = offset == 0 ? state.withoutPendingGradients() : state;
        state = initial;
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
        return new Result(output, state, recordLoss ? stats() : null);
    }

    private InnerLossStats stats() {
        float[][] columns = new float[3][losses.size()];
        for (int i = 0; i < losses.size(); i++) {
            for (int c = 0; c < 3; c++) {
                columns[c][i] = losses.get(i)[c];
            }
        }
        return new InnerLossStats(columns[0], columns[1], columns[2]);
    }

    /** One token per row, each row at its own offset inside its mini-batch: the primal form. */
    private Result runPerRow(FastWeights state, Inputs inputs, long[] starts) {
        Shape s = inputs.query().getShape(); // (B, 1, H, f)
        if (s.get(1) != 1) {
            throw new IllegalArgumentException(
                    "rows at different positions "
                            + Arrays.toString(starts)
                            + " can only advance one token at a time, got "
                            + s.get(1)
                            + " tokens");
        }
        NDManager manager = inputs.query().getManager();
        int heads = (int) s.get(2);
        int rows = starts.length * heads;
        int miniBatchSize = inputs.miniBatchSize();
        float[] oneHot = new float[rows * miniBatchSize];
        float[] completes = new float[rows];
        for (int r = 0; r < rows; r++) {
            int offset = (int) (starts[r / heads] % miniBatchSize);
            oneHot[r * miniBatchSize + offset] = 1;
            completes[r] = offset == miniBatchSize - 1 ? 1 : 0;
        }
        NDArray tokenFactor =
                Constants.of(manager, oneHot, new Shape(rows, miniBatchSize), inputs.query())
                        .matMul(inputs.tokenFactors())
                        .reshape(rows, 1, 1);
        NDArray completesPerRow =
                Constants.of(manager, completes, new Shape(rows, 1, 1), inputs.query());
        Group token = new Group(inputs, 0, 1, 1, 0, false);
        MiniBatch batch =
                MiniBatch.primal(
                        loss,
                        token.only(token.keyQuery),
                        token.only(token.keyTransposed),
                        token.only(token.lossShift),
                        token.only(token.learningRate),
                        tokenFactor,
                        false,
                        completesPerRow);
        InnerModel.Step step =
                ScanThreads.run(tokenFactor, () -> model.primalStep(state, batch, optimizer));
        return new Result(
                token.unfold(List.of(step.output())), step.next(), recordLoss ? stats() : null);
    }

    /**
     * {@code n} mini-batches of {@code k} tokens each that all start at offset {@code o}, laid out
     * {@code (n, N, k, ·)}.
     */
    private final class Group {
        private final int batch;
        private final int heads;
        private final int count;
        private final int tokens;
        private final int offset;
        private final boolean completes;
        private final NDArray keyQuery;
        private final NDArray keyTransposed;
        private final NDArray query;
        private final NDArray key;
        private final NDArray target;
        private final NDArray lossShift;
        private final NDArray learningRate;
        private final NDArray tokenFactor;

        Group(Inputs in, int start, int count, int k, int offset, boolean completes) {
            Shape s = in.query().getShape(); // (B, T, H, f)
            this.batch = (int) s.get(0);
            this.heads = (int) s.get(2);
            this.count = count;
            this.tokens = k;
            this.offset = offset;
            this.completes = completes;
            NDManager manager = in.query().getManager();
            long rows = (long) batch * heads;
            boolean flat = singleToken();
            NDArray ones =
                    manager.ones(
                            flat ? new Shape(rows, 1, 1) : new Shape(count, rows, k, 1),
                            in.query().getDataType());
            int last = flat ? 2 : 3;
            query = NDArrays.concat(new NDList(fold(in.query(), start), ones), last);
            key = NDArrays.concat(new NDList(fold(in.key(), start), ones), last);
            keyQuery = NDArrays.concat(new NDList(key, query), last - 1);
            keyTransposed = flat ? key.transpose(0, 2, 1) : key.transpose(0, 1, 3, 2);
            target = fold(in.target(), start);
            lossShift = loss.shift(target);
            // (B, T, H) -> (n, N, k, 1): lr_j of each key token
            learningRate =
                    flat
                            ? token(in.learningRate(), start).reshape(rows, 1, 1)
                            : contiguous(
                                    in.learningRate()
                                            .get(":, {}:{}", start, start + count * k)
                                            .reshape(batch, count, k, heads)
                                            .transpose(1, 0, 3, 2)
                                            .reshape(count, (long) batch * heads, k, 1));
            NDArray factors = in.tokenFactors().get(new NDIndex().addSliceDim(offset, offset + k));
            tokenFactor = flat ? factors : factors.reshape(k, 1); // (1) broadcasts as (1, 1)
        }

        /**
         * Whether the group is one token (decoding): its arrays are then reshapes of the chunk's,
         * with no transposes or copies (a quarter of the ops of a decode step's setup), laid out as
         * the one mini-batch {@code (N, 1, ·)} instead of {@code (1, N, 1, ·)}, so that the loop
         * takes them as they are instead of squeezing four arrays per step. Such a group always
         * takes the primal form (see {@link #run}), which needs nothing hoisted.
         */
        private boolean singleToken() {
            return count == 1 && tokens == 1;
        }

        /** The one mini-batch of a group array of a single token, {@code (N, 1, ·)}. */
        private NDArray only(NDArray x) {
            return singleToken() ? x : x.get(0);
        }

        /** Token {@code start} of a {@code (B, T, …)} array, {@code (B, 1, …)}. */
        private static NDArray token(NDArray x, int start) {
            return x.getShape().get(1) == 1 ? x : x.get(":, {}:{}", start, start + 1);
        }

        /**
         * {@code (B, T, H, f)} → {@code (n, N, k, f)} ({@code (N, 1, f)} for a single token),
         * contiguous.
         */
        private NDArray fold(NDArray x, int start) {
            long f = x.getShape().get(3);
            if (singleToken()) {
                // (B, 1, H, f) is already ordered as (B·H, 1, f)
                return token(x, start).reshape((long) batch * heads, 1, f);
            }
            return contiguous(
                    x.get(":, {}:{}", start, start + count * tokens)
                            .reshape(batch, count, tokens, heads, f)
                            .transpose(1, 0, 3, 2, 4)
                            .reshape(count, (long) batch * heads, tokens, f));
        }

        /** {@code n} outputs {@code (N, k, f)} → {@code (B, n·k, H, f)}. */
        NDArray unfold(List<NDArray> steps) {
            if (singleToken()) {
                NDArray z = steps.get(0); // (N, 1, f)
                return z.reshape(batch, 1, heads, z.getShape().get(2));
            }
            NDArray stacked = NDArrays.stack(new NDList(steps), 0);
            long f = stacked.getShape().get(3);
            return stacked.reshape(count, batch, heads, tokens, f)
                    .transpose(1, 0, 3, 2, 4)
                    .reshape(batch, (long) count * tokens, heads, f);
        }

        FastWeights run(
                FastWeights state, InnerForm form, List<NDArray> outputs, FastWeights initial) {
            // a single token (a decode step) takes the primal form at any offset: its one-token
            // path keeps the pending gradient as factors, where the dual form would hoist the η
            // matrices and leave a full sum that every later token of the mini-batch multiplies by
            boolean dual = form == InnerForm.DUAL && offset == 0 && !singleToken();
            Hoisted hoisted = dual ? hoistDual() : new Hoisted(null, null, null);
            long rows = (long) batch * heads;
            // the big batched ops above keep every thread; the loop of small ops runs on one
            // thread per slice of rows (heads and sequences are independent)
            // the first layer's output, [Z, 1] (f + 1, or 4f + 1 for TTT-MLP), is a step's widest
            // array
            long widest = state.layer(0).getShape().get(2) + 1;
            int slices = recordLoss ? 1 : ScanThreads.slices(query, rows, rows * tokens * widest);
            List<Part> parts =
                    ScanThreads.run(
                            query,
                            slices,
                            i -> {
                                List<NDArray> steps = new ArrayList<>();
                                if (slices == 1) {
                                    FastWeights last =
                                            loop(state, dual, whole(hoisted), steps, initial);
                                    return new Part(last, steps);
                                }
                                long from = rows * i / slices;
                                long to = rows * (i + 1) / slices;
                                FastWeights last =
                                        loop(
                                                state.rows(from, to),
                                                dual,
                                                rows(from, to, hoisted),
                                                steps,
                                                initial.rows(from, to));
                                return new Part(last, steps);
                            },
                            Part::arrays);
            if (parts.size() == 1) {
                outputs.add(unfold(parts.get(0).steps()));
                return parts.get(0).state();
            }
            List<NDArray> steps = new ArrayList<>();
            for (int m = 0; m < count; m++) {
                NDList rowsOfStep = new NDList();
                for (Part part : parts) {
                    rowsOfStep.add(part.steps().get(m));
                }
                steps.add(NDArrays.concat(rowsOfStep, 0));
            }
            outputs.add(unfold(steps));
            return FastWeights.concatRows(parts.stream().map(Part::state).toList());
        }

        /** The group's per-row arrays, all rows. */
        private Rows whole(Hoisted hoisted) {
            return new Rows(loss, keyQuery, keyTransposed, lossShift, learningRate, hoisted);
        }

        /** The group's per-row arrays for rows {@code [from, to)} (views). */
        private Rows rows(long from, long to, Hoisted hoisted) {
            NDIndex second =
                    singleToken()
                            ? new NDIndex().addSliceDim(from, to)
                            : new NDIndex().addAllDim().addSliceDim(from, to);
            Hoisted h =
                    hoisted.trilEta() == null
                            ? hoisted
                            : new Hoisted(
                                    hoisted.trilEta().get(second),
                                    hoisted.queryKeyEta().get(second),
                                    hoisted.updateRate().get(second));
            return new Rows(
                    loss.rows(from, to),
                    keyQuery.get(second),
                    keyTransposed.get(second),
                    lossShift.get(second),
                    learningRate.get(second),
                    h);
        }

        /** The η matrices of every mini-batch of the group, for the dual form. */
        private Hoisted hoistDual() {
            InnerOptimizer.DualRates rates =
                    optimizer.dualRates(tokenFactor, learningRate, completes);
            // the first layer's mixing: its inputs [XQ, 1], [XK, 1] are known for all tokens
            NDArray queryKeyEta = optimizer.mixing(rates.trilEta(), query, keyTransposed);
            return new Hoisted(rates.trilEta(), queryKeyEta, rates.updateRate());
        }

        /** The sequential loop: one inner step per mini-batch, each in its own scope. */
        private FastWeights loop(
                FastWeights state,
                boolean dual,
                Rows rows,
                List<NDArray> steps,
                FastWeights initial) {
            ReconstructionLoss rowsLoss = rows.loss();
            Hoisted hoisted = rows.hoisted();
            NDList keyQuery = perStep(rows.keyQuery());
            NDList keyTransposed = perStep(rows.keyTransposed());
            NDList lossShift = perStep(rows.lossShift());
            NDList trilEta = dual ? perStep(hoisted.trilEta()) : null;
            NDList queryKeyEta = dual ? perStep(hoisted.queryKeyEta()) : null;
            NDList updateRate = dual ? perStep(hoisted.updateRate()) : null;
            NDList learningRate = dual ? null : perStep(rows.learningRate());
            // from the second mini-batch on, the weights are the scan's own; without autograd
            // (and without loss measurements, which compare them before and after) a step may
            // update them in place
            boolean mayUpdateInPlace =
                    !recordLoss && ScanThreads.recordsNoGradient(rows.keyQuery());
            for (int m = 0; m < count; m++) {
                InnerModel.Step step;
                try (NDScope scope = new NDScope()) {
                    step =
                            dual
                                    ? model.dualStep(
                                            state,
                                            MiniBatch.dual(
                                                    rowsLoss,
                                                    piece(keyQuery, m),
                                                    piece(keyTransposed, m),
                                                    piece(lossShift, m),
                                                    piece(trilEta, m),
                                                    piece(queryKeyEta, m),
                                                    piece(updateRate, m),
                                                    completes),
                                            optimizer,
                                            mayUpdateInPlace && m > 0)
                                    : model.primalStep(
                                            state,
                                            MiniBatch.primal(
                                                    rowsLoss,
                                                    piece(keyQuery, m),
                                                    piece(keyTransposed, m),
                                                    piece(lossShift, m),
                                                    piece(learningRate, m),
                                                    tokenFactor,
                                                    completes,
                                                    null),
                                            optimizer);
                    if (recordLoss && offset == 0 && completes) {
                        measure(initial, state, step.next(), m);
                    }
                    NDScope.unregister(step.output());
                    NDScope.unregister(step.next().arrays());
                    scope.suppressNotUsedWarning();
                }
                NDScope.register(step.output());
                for (NDArray array : step.next().arrays()) {
                    if (!contains(state.arrays(), array)) {
                        NDScope.register(array); // now owned by the enclosing scope
                    }
                }
                closeReplaced(state, step.next(), initial);
                steps.add(step.output());
                state = step.next();
            }
            return state;
        }

        /**
         * Cuts an {@code (n, N, ·, ·)} array into its {@code n} mini-batches with one op. Taking
         * mini-batch {@code m} with {@code get(m)} instead would cost the backward pass a
         * zero-filled copy of the whole array per mini-batch (autograd's select backward),
         * quadratic in the sequence length; the split's backward is one concatenation.
         */
        private NDList perStep(NDArray x) {
            return count == 1 ? new NDList(x) : x.split(count, 0);
        }

        /** Mini-batch {@code m} of a {@link #perStep} list, {@code (N, ·, ·)}. */
        private NDArray piece(NDList pieces, int m) {
            return singleToken() ? pieces.get(m) : pieces.get(m).squeeze(0);
        }

        /** The inner loss of mini-batch {@code m} with three sets of weights. */
        private void measure(FastWeights initial, FastWeights before, FastWeights after, int m) {
            NDArray keys = singleToken() ? key : key.get(m);
            NDArray goal = singleToken() ? target : target.get(m);
            float[] values = new float[3];
            FastWeights[] weights = {initial, before, after};
            for (int i = 0; i < 3; i++) {
                NDArray error = model.reconstructionError(weights[i], keys, goal, loss);
                values[i] = error.toType(DataType.FLOAT32, false).getFloat();
            }
            losses.add(values);
        }
    }

    /** A group's per-row inputs of the loop: all rows, or one slice of them. */
    private record Rows(
            ReconstructionLoss loss,
            NDArray keyQuery,
            NDArray keyTransposed,
            NDArray lossShift,
            NDArray learningRate,
            Hoisted hoisted) {}

    /** The outputs of the loop over one slice of rows: the last state and each step's output. */
    private record Part(FastWeights state, List<NDArray> steps) {
        List<NDArray> arrays() {
            List<NDArray> all = new ArrayList<>(steps);
            all.addAll(Arrays.asList(state.arrays()));
            return all;
        }
    }

    /**
     * {@code tril(E)}, {@code tril(E) ⊙ ([XQ, 1] [XK, 1]ᵀ)} and the update rates, {@code (n, N, ·,
     * ·)}.
     */
    private record Hoisted(NDArray trilEta, NDArray queryKeyEta, NDArray updateRate) {}

    /**
     * The array in row-major layout: a copy when it is a strided view or when an element-wise op
     * gave it a permuted layout (which libtorch keeps), the array itself otherwise. Batched
     * products over slices of a permuted array fall back to copying every matrix first (6× slower
     * per step).
     */
    private static NDArray contiguous(NDArray x) {
        return x.reshape(-1).reshape(x.getShape());
    }

    /** Closes the arrays of a replaced state, except those still in use or owned by the caller. */
    private static void closeReplaced(FastWeights replaced, FastWeights next, FastWeights initial) {
        for (NDArray array : replaced.arrays()) {
            if (!contains(next.arrays(), array) && !contains(initial.arrays(), array)) {
                array.close();
            }
        }
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
            NDArray tokenFactors) {

        /**
         * Returns the mini-batch size.
         *
         * @return b, the length of the token factors
         */
        public int miniBatchSize() {
            return Math.toIntExact(tokenFactors.getShape().get(0));
        }
    }

    /**
     * The outputs of a scan.
     *
     * @param output the pre-norm outputs {@code Z̄} of every token, {@code (B, T, H, f)}
     * @param state the state after the chunk
     * @param innerLoss the inner loss of every full mini-batch, or {@code null} when not measured
     */
    public record Result(NDArray output, FastWeights state, InnerLossStats innerLoss) {}
}
