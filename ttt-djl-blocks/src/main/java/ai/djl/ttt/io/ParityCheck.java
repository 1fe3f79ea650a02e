package ai.djl.ttt.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.ParameterStore;
import ai.djl.ttt.nn.TttLayer;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs our implementation on a {@link ReferenceCase} and measures how far each output is from the
 * official one: {@code ‖ours − reference‖ / ‖reference‖}.
 *
 * <p>Outputs named {@code *_f64} come from the official code run in float64; they are compared with
 * our run in float64 (with the same parameters, upcast), the others with our float32 run.
 */
public final class ParityCheck {

    private ParityCheck() {}

    /**
     * Checks a case.
     *
     * @param manager the manager for the runs (closed sub-managers are used inside)
     * @param referenceCase the case
     * @return one result per expected output
     * @throws UnsupportedOperationException for a kind this build cannot run yet
     */
    public static List<Result> run(NDManager manager, ReferenceCase referenceCase) {
        if (!"layer".equals(referenceCase.getKind())) {
            throw new UnsupportedOperationException(
                    "case kind '"
                            + referenceCase.getKind()
                            + "' needs the language model, which this build does not have yet;"
                            + " only 'layer' cases can be checked");
        }
        List<Result> results = new ArrayList<>();
        for (String name : referenceCase.getOutputs()) {
            DataType type = name.endsWith("_f64") ? DataType.FLOAT64 : DataType.FLOAT32;
            try (NDManager sub = manager.newSubManager()) {
                TttLayer layer =
                        OfficialWeights.loadLayer(
                                referenceCase.getConfig(), referenceCase.parameters(), sub, type);
                NDArray input = referenceCase.tensors().get("hidden_states").toType(type, true);
                input.attach(sub);
                NDArray ours =
                        layer.forward(new ParameterStore(sub, false), new NDList(input), false)
                                .head();
                NDArray reference = referenceCase.tensors().get(name);
                results.add(new Result(name, relativeError(ours, reference)));
            }
        }
        return results;
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
     * @param relativeError {@code ‖ours − reference‖ / ‖reference‖}
     */
    public record Result(String output, double relativeError) {}
}
