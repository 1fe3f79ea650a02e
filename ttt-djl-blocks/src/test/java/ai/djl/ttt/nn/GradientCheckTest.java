package ai.djl.ttt.nn;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.io.OfficialWeights;
import ai.djl.ttt.runtime.NoGrad;
import ai.djl.ttt.runtime.ScanThreads;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * Autograd through the layer (first-order only) matches central finite differences, in float64, for
 * the input and every parameter tensor: the dual form with T not a multiple of the mini-batch, and
 * single tokens continuing a state in the primal form.
 */
class GradientCheckTest {

    private static final double EPS = 1e-5;

    @Test
    void gradientsMatchFiniteDifferences() {
        checkEveryConfig(21, 5, GradientCheckTest::loss, "");
    }

    /**
     * Single tokens after a prefill run the primal form's one-token path ({@code
     * DenseChain.oneToken}), which never forms the token's weights unless the token ends its
     * mini-batch and keeps the mini-batch's gradient terms as factors in the state: at position 15
     * (ends it), then, after a two-token chunk (16, 17) that leaves a pending sum, 18 and 19 (on
     * top of that sum, with one and two factored terms). Its gradients, through the carried states,
     * match finite differences too.
     */
    @Test
    void oneTokenStepsHaveExactGradients() {
        checkEveryConfig(
                20,
                9,
                GradientCheckTest::tokenByTokenLoss,
                ", token 15, tokens 16-17, tokens 18 and 19 one at a time");
    }

    /** A scalar loss of a layer's outputs on {@code x}, weighted by {@code weights}. */
    private interface Loss {
        NDArray of(TttLayer layer, NDArray x, NDArray weights, boolean training);
    }

    /** The finite-difference check for every small config, on T tokens of float64 inputs. */
    private static void checkEveryConfig(int length, long seed, Loss loss, String what) {
        for (TttConfig config : TestLayers.smallConfigs()) {
            try (NDManager manager = NDManager.newBaseManager()) {
                TttLayer layer = TestLayers.layer(config, manager, DataType.FLOAT64, seed);
                NDArray x = TestLayers.input(manager, 2, length, 32, seed + 1, DataType.FLOAT64);
                NDArray weights =
                        TestLayers.input(manager, 2, length, 32, seed + 3, DataType.FLOAT64);
                checkAgainstFiniteDifferences(
                        layer,
                        x,
                        training -> loss.of(layer, x, weights, training),
                        PrefillDecodeTest.describe(config) + what);
            }
        }
    }

    /**
     * Compares autograd's directional derivative with a central finite difference, for the input
     * and every parameter tensor of the layer.
     */
    private static void checkAgainstFiniteDifferences(
            TttLayer layer, NDArray x, Function<Boolean, NDArray> loss, String label) {
        NDManager manager = x.getManager();
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        tensors.put("input", x);
        for (Map.Entry<String, Parameter> e : OfficialWeights.parameterNames(layer).entrySet()) {
            tensors.put(e.getKey(), e.getValue().getArray());
        }
        x.setRequiresGradient(true);
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            gc.backward(loss.apply(true));
        }

        for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
            NDArray tensor = e.getValue();
            NDArray direction = direction(manager, tensor, (label + " " + e.getKey()).hashCode());
            double analytic = tensor.getGradient().mul(direction).sum().getDouble();
            double plus;
            double minus;
            // the perturbations are not differentiated (and may not be, on a leaf in grad mode)
            try (NoGrad off = NoGrad.open(manager)) {
                tensor.addi(direction.mul(EPS));
                plus = loss.apply(false).getDouble();
                tensor.subi(direction.mul(2 * EPS));
                minus = loss.apply(false).getDouble();
                tensor.addi(direction.mul(EPS));
            }
            double numeric = (plus - minus) / (2 * EPS);
            double err = Math.abs(numeric - analytic) / Math.max(Math.abs(numeric), 1e-8);
            assertTrue(
                    err <= 1e-5,
                    label
                            + " d/d "
                            + e.getKey()
                            + ": autograd "
                            + analytic
                            + " vs finite difference "
                            + numeric
                            + " (rel err "
                            + err
                            + ")");
            assertTrue(Math.abs(analytic) > 1e-6, e.getKey() + " has no gradient");
        }
    }

    /**
     * A random direction of a tensor's shape, fixed by {@code seed}: the global generator's state
     * depends on which tests ran before, and a check must not pass or fail by that.
     */
    private static NDArray direction(NDManager manager, NDArray tensor, long seed) {
        Random random = new Random(seed);
        double[] values = new double[Math.toIntExact(tensor.size())];
        for (int i = 0; i < values.length; i++) {
            values[i] = random.nextGaussian();
        }
        return manager.create(values, tensor.getShape()).toDevice(tensor.getDevice(), false);
    }

    /**
     * {@code ScanThreads.backward} runs the backward on one thread or on libtorch's (see {@code
     * ScanThreads.backwardThreads}); the gradients are the same.
     */
    @Test
    void gradientsDoNotDependOnTheBackwardThreadCount() {
        String property = "ai.djl.ttt.scan_threads";
        try {
            for (TttConfig config : TestLayers.smallConfigs()) {
                try (NDManager manager = NDManager.newBaseManager()) {
                    TttLayer layer = TestLayers.layer(config, manager, DataType.FLOAT64, 7);
                    NDArray weights = TestLayers.input(manager, 2, 37, 32, 8, DataType.FLOAT64);
                    NDArray[] gradients = new NDArray[2];
                    String[] threads = {"1", "2"};
                    for (int i = 0; i < 2; i++) {
                        System.setProperty(property, threads[i]);
                        NDArray x = TestLayers.input(manager, 2, 37, 32, 6, DataType.FLOAT64);
                        x.setRequiresGradient(true);
                        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                            ScanThreads.backward(gc, loss(layer, x, weights, true));
                        }
                        gradients[i] = x.getGradient().duplicate();
                    }
                    double err = TestLayers.relativeError(gradients[1], gradients[0]);
                    assertTrue(
                            err <= 1e-12,
                            PrefillDecodeTest.describe(config) + ": 1 vs 2 threads: " + err);
                }
            }
        } finally {
            System.clearProperty(property);
        }
    }

    /**
     * {@code Σ y ⊙ w} over a prefill of the first 15 tokens, then token 15, tokens 16-17 (a
     * two-token dual tail: a pending sum), token 18 and token 19, each call continuing the state.
     */
    private static NDArray tokenByTokenLoss(
            TttLayer layer, NDArray x, NDArray weights, boolean training) {
        ParameterStore ps = new ParameterStore(x.getManager(), false);
        long length = x.getShape().get(1);
        NDList outputs = new NDList();
        TttState state = null;
        long from = 0;
        for (long to : new long[] {15, 16, 18, 19, length}) {
            NDIndex chunk = new NDIndex().addAllDim().addSliceDim(from, to);
            from = to;
            SequenceLayer.Output<TttState> out = layer.prefill(ps, x.get(chunk), state, training);
            outputs.add(out.output());
            state = out.state();
        }
        return NDArrays.concat(outputs, 1).mul(weights).sum();
    }

    /** A scalar that depends on every output: {@code Σ y ⊙ w}. */
    private static NDArray loss(TttLayer layer, NDArray x, NDArray weights, boolean training) {
        NDArray y =
                layer.forward(new ParameterStore(x.getManager(), false), new NDList(x), training)
                        .head();
        return y.mul(weights).sum();
    }
}
