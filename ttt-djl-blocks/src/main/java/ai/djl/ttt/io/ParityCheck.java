package ai.djl.ttt.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.djl.ttt.lm.CausalLm;
import ai.djl.ttt.lm.LmState;
import ai.djl.ttt.nn.SequenceLayer;
import ai.djl.ttt.nn.TttLayer;
import ai.djl.ttt.nn.TttState;
import ai.djl.ttt.runtime.NoGrad;
import ai.djl.ttt.runtime.Precision;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;

/**
 * Runs our implementation on a {@link ReferenceCase} and measures how far each output is from the
 * official one: {@code ‖ours − reference‖ / ‖reference‖}.
 *
 * <p>Outputs named {@code *_f64} come from the official code run in float64; they are compared with
 * our run in float64 (with the same parameters, upcast), the others with our float32 run; each
 * {@link Result} says which, so that a caller can hold float64 to its own, much tighter, tolerance
 * ({@link #DEFAULT_TOLERANCE_F64}).
 *
 * <p>When the case has {@code position_ids}, they are checked against the positions our run uses:
 * the official layers apply RoPE at {@code position_id mod mini_batch_size} and split mini-batches
 * from the first token, and our run starts at position 0, so the case is run only when every {@code
 * position_id ≡ t (mod mini_batch_size)}; other positions are reported, never ignored.
 */
public final class ParityCheck {

    /** The default tolerance of float32 outputs: an exact port lands far below it. */
    public static final double DEFAULT_TOLERANCE = 1e-5;

    /** The default tolerance of float64 outputs (their rounding errors are about 1e-15). */
    public static final double DEFAULT_TOLERANCE_F64 = 1e-12;

    private ParityCheck() {}

    /**
     * Checks a case: {@code layer} ({@code hidden_states → output}), {@code lm} ({@code input_ids →
     * logits}) or {@code decode} (a {@code prompt_len}-token prefill, then one token per step:
     * {@code prefill_logits}, {@code decode_logits}, {@code full_logits}).
     *
     * @param manager the manager for the runs (closed sub-managers are used inside)
     * @param referenceCase the case
     * @return one result per expected output
     * @throws IllegalArgumentException for an unknown kind, or {@code position_ids} other than the
     *     positions our run uses
     */
    public static List<Result> run(NDManager manager, ReferenceCase referenceCase) {
        return run(manager, referenceCase, Precision.FLOAT32);
    }

    /**
     * Checks a case in a precision. In {@link Precision#FLOAT32} this is {@link #run(NDManager,
     * ReferenceCase)}. In {@link Precision#FLOAT16} the float32 outputs come from the model or
     * layer with float16 copies ({@code setPrecision}), computed one row and one token per call, so
     * that every product is a one-row product and takes the float16 path ({@code
     * ai.djl.ttt.runtime.HalfProducts}); the {@code *_f64} outputs stay float64 runs.
     *
     * @param manager the manager for the runs (closed sub-managers are used inside)
     * @param referenceCase the case
     * @param precision the precision of the float32 outputs' runs
     * @return one result per expected output
     * @throws IllegalArgumentException for an unknown kind, or {@code position_ids} other than the
     *     positions our run uses
     */
    public static List<Result> run(
            NDManager manager, ReferenceCase referenceCase, Precision precision) {
        requireSupportedPositions(referenceCase);
        List<Result> results = new ArrayList<>();
        for (String name : referenceCase.getOutputs()) {
            boolean f64 = name.endsWith("_f64");
            DataType type = f64 ? DataType.FLOAT64 : DataType.FLOAT32;
            String base = f64 ? name.substring(0, name.length() - 4) : name;
            try (NDManager sub = manager.newSubManager();
                    NoGrad off = NoGrad.open(sub)) {
                NDArray ours =
                        precision == Precision.FLOAT16 && !f64
                                ? computeByToken(sub, referenceCase, base)
                                : compute(sub, referenceCase, base, type);
                results.add(
                        new Result(name, type, relativeError(ours, referenceCase.reference(name))));
            }
        }
        return results;
    }

    /**
     * Checks the case's {@code position_ids}: our run puts token {@code t} at RoPE position {@code
     * t mod b} and splits mini-batches from token 0, as the official code does when {@code
     * position_id ≡ t (mod b)}.
     */
    static void requireSupportedPositions(ReferenceCase c) {
        NDArray positions = c.positionIds();
        if (positions == null) {
            return;
        }
        long b = c.getConfig().getMiniBatchSize();
        Shape shape = positions.getShape();
        if (shape.dimension() != 2) {
            throw new IllegalArgumentException(
                    "position_ids should be (1, T) or (B, T), got " + shape);
        }
        long[] ids = positions.toType(DataType.INT64, false).toLongArray();
        long length = shape.get(1);
        for (int i = 0; i < ids.length; i++) {
            long t = i % length;
            if (Math.floorMod(ids[i], b) != t % b) {
                throw new IllegalArgumentException(
                        "position_ids row "
                                + i / length
                                + " puts token "
                                + t
                                + " at position "
                                + ids[i]
                                + ": this check runs from position 0 (RoPE at t mod "
                                + b
                                + "), so it can only compare positions ≡ t (mod "
                                + b
                                + ")");
            }
        }
    }

    /**
     * An output computed in float16 mode one row and one token per call (every token's state
     * carried to the next), sliced as {@link #compute} would return it.
     */
    private static NDArray computeByToken(NDManager manager, ReferenceCase c, String output) {
        ParameterStore ps = new ParameterStore(manager, false);
        DataType type = DataType.FLOAT32;
        if ("layer".equals(c.getKind())) {
            TttLayer layer =
                    OfficialWeights.loadLayer(c.getConfig(), c.parameters(), manager, type);
            layer.setPrecision(Precision.FLOAT16);
            NDArray x = c.tensors().get("hidden_states").toType(type, true);
            x.attach(manager);
            return byToken(
                    x,
                    (chunk, state) -> {
                        SequenceLayer.Output<TttState> out =
                                layer.prefill(ps, chunk, (TttState) state, false);
                        return new Step(out.output(), out.state());
                    });
        }
        if (!"lm".equals(c.getKind()) && !"decode".equals(c.getKind())) {
            return compute(manager, c, output, type); // the error names the kinds
        }
        CausalLm model = OfficialWeights.loadModel(c.getConfig(), c.parameters(), manager, type);
        model.setPrecision(Precision.FLOAT16);
        NDArray ids = c.tensors().get("input_ids").duplicate();
        ids.attach(manager);
        NDArray all =
                byToken(
                        ids,
                        (chunk, state) -> {
                            CausalLm.Output out = model.prefill(ps, chunk, (LmState) state, false);
                            return new Step(out.logits(), out.state());
                        });
        if ("prefill_logits".equals(output)) {
            return all.get(":, 0:{}", c.getInt("prompt_len"));
        }
        if ("decode_logits".equals(output)) {
            return all.get(":, {}:", c.getInt("prompt_len"));
        }
        return all;
    }

    /** Runs {@code (B, T, ...)} one row and one token per call, the state carried along T. */
    private static NDArray byToken(NDArray input, BiFunction<NDArray, Object, Step> step) {
        NDList rows = new NDList();
        for (long b = 0; b < input.getShape().get(0); b++) {
            NDList tokens = new NDList();
            Object state = null;
            for (long t = 0; t < input.getShape().get(1); t++) {
                Step out = step.apply(input.get("{}:{}, {}:{}", b, b + 1, t, t + 1), state);
                tokens.add(out.output());
                state = out.state();
            }
            rows.add(NDArrays.concat(tokens, 1));
        }
        return NDArrays.concat(rows, 0);
    }

    /** One call's output and the state after it. */
    private record Step(NDArray output, Object state) {}

    private static NDArray compute(
            NDManager manager, ReferenceCase c, String output, DataType type) {
        ParameterStore ps = new ParameterStore(manager, false);
        switch (c.getKind()) {
            case "layer":
                {
                    TttLayer layer =
                            OfficialWeights.loadLayer(c.getConfig(), c.parameters(), manager, type);
                    NDArray x = c.tensors().get("hidden_states").toType(type, true);
                    x.attach(manager);
                    return layer.forward(ps, new NDList(x), false).head();
                }
            case "lm":
            case "decode":
                {
                    CausalLm model =
                            OfficialWeights.loadModel(c.getConfig(), c.parameters(), manager, type);
                    NDArray ids = c.tensors().get("input_ids").duplicate();
                    ids.attach(manager);
                    if ("logits".equals(output) || "full_logits".equals(output)) {
                        return model.forward(ps, new NDList(ids), false).head();
                    }
                    int prompt = c.getInt("prompt_len");
                    CausalLm.Output out =
                            model.prefill(ps, ids.get(":, 0:{}", prompt), null, false);
                    if ("prefill_logits".equals(output)) {
                        return out.logits();
                    }
                    NDList steps = new NDList();
                    long length = ids.getShape().get(1);
                    for (long t = prompt; t < length; t++) {
                        out = model.prefill(ps, ids.get(":, {}:{}", t, t + 1), out.state(), false);
                        steps.add(out.logits());
                    }
                    return NDArrays.concat(steps, 1);
                }
            default:
                throw new IllegalArgumentException(
                        "unknown case kind '" + c.getKind() + "': expected layer, lm or decode");
        }
    }

    /**
     * Returns {@code ‖actual − expected‖ / ‖expected‖}, computed in float64.
     *
     * @param actual our values
     * @param expected the reference values (same shape)
     * @return the relative error
     * @throws IllegalArgumentException if the shapes differ
     */
    public static double relativeError(NDArray actual, NDArray expected) {
        if (!actual.getShape().equals(expected.getShape())) {
            throw new IllegalArgumentException(
                    "shape " + actual.getShape() + " vs reference " + expected.getShape());
        }
        double[] a = actual.toType(DataType.FLOAT64, false).toDoubleArray();
        double[] e = expected.toType(DataType.FLOAT64, false).toDoubleArray();
        double diff = 0;
        double norm = 0;
        for (int i = 0; i < a.length; i++) {
            diff += (a[i] - e[i]) * (a[i] - e[i]);
            norm += e[i] * e[i];
        }
        return Math.sqrt(diff) / Math.sqrt(norm);
    }

    /**
     * The distance of one output from the reference.
     *
     * @param output the name of the output, e.g. {@code output_f64}
     * @param type the type of our run: {@code FLOAT64} for {@code *_f64} outputs, else {@code
     *     FLOAT32}
     * @param relativeError {@code ‖ours − reference‖ / ‖reference‖}
     */
    public record Result(String output, DataType type, double relativeError) {

        /**
         * Returns whether the error is within the tolerance of this output's type.
         *
         * @param tolerance the float32 tolerance
         * @param toleranceF64 the float64 tolerance
         * @return true if within (a NaN error never is)
         */
        public boolean within(double tolerance, double toleranceF64) {
            return relativeError <= (type == DataType.FLOAT64 ? toleranceF64 : tolerance);
        }
    }
}
