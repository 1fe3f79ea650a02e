package ai.djl.ttt.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.LocalParameterServer;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.Batch;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.djl.translate.StackBatchifier;
import ai.djl.ttt.io.ParityCheck;
import ai.djl.ttt.nn.inner.Constants;
import ai.djl.util.Pair;
import java.nio.file.Path;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Training on several devices takes the step that one device takes with the whole batch.
 *
 * <p>DJL's PyTorch engine has one CPU device ({@code Device.of("cpu", 1)} is {@code cpu()} again),
 * so the tests play two devices on one CPU: the optimizer is driven through DJL's own {@link
 * LocalParameterServer} with two copies of each parameter (one {@code update} per copy per step,
 * with the summed gradient, as on two GPUs), the copies told apart by identity instead of device;
 * and {@link TrainingStep} splits the batch in two on the CPU as it would over two devices.
 */
class MultiDeviceTest {

    private static final int STEPS = 5;

    /** A small block: weights (decayed) and a bias (not). */
    private static Block block(NDManager manager) {
        Block block = Linear.builder().setUnits(3).build();
        Engine.getInstance().setRandomSeed(11);
        block.initialize(manager, DataType.FLOAT32, new Shape(2, 4));
        return block;
    }

    private static MaskedAdamW adamW(Block block) {
        return MaskedAdamW.builder()
                .setBlock(block)
                .optLearningRateTracker(Tracker.fixed(0.05f))
                .optWeightDecay(0.1f)
                .build();
    }

    /** The gradient device {@code d} contributes to parameter {@code p} at a step. */
    private static NDArray gradient(NDManager m, Shape shape, int step, int p, int d) {
        Engine.getInstance().setRandomSeed(1000 * step + 10 * p + d);
        return m.randomNormal(shape);
    }

    @Test
    void maskedAdamWOnTwoDevicesEqualsOneDevice(@TempDir Path dir) throws Exception {
        try (NDManager manager = NDManager.newBaseManager()) {
            Block one = block(manager);
            Block two = block(manager);
            MaskedAdamW single = adamW(one);
            MaskedAdamW parallel = adamW(two);
            List<Parameter> ones = parameters(one);
            List<Parameter> twos = parameters(two);
            // the second device's copies, told apart from the first by identity
            Map<NDArray, Object> devices = new IdentityHashMap<>();
            NDArray[][] copies = new NDArray[twos.size()][];
            for (int p = 0; p < twos.size(); p++) {
                NDArray first = twos.get(p).getArray();
                NDArray second = first.duplicate();
                second.setRequiresGradient(true);
                devices.put(first, "device 0");
                devices.put(second, "device 1");
                copies[p] = new NDArray[] {first, second};
            }
            parallel.identifyCopiesBy(devices::get);
            LocalParameterServer oneServer = new LocalParameterServer(single);
            LocalParameterServer twoServers = new LocalParameterServer(parallel);

            for (int step = 1; step <= STEPS; step++) {
                for (int p = 0; p < ones.size(); p++) {
                    NDArray w = ones.get(p).getArray();
                    // one device: the whole batch's gradient, the sum of both halves'
                    try (NDManager m = manager.newSubManager()) {
                        NDArray whole =
                                gradient(m, w.getShape(), step, p, 0)
                                        .add(gradient(m, w.getShape(), step, p, 1));
                        setGradient(w, whole);
                        oneServer.update(
                                ones.get(p).getId(),
                                new NDArray[] {w.getGradient()},
                                new NDArray[] {w});
                        // two devices: each copy's own half; the server sums and updates both
                        for (int d = 0; d < 2; d++) {
                            setGradient(copies[p][d], gradient(m, w.getShape(), step, p, d));
                        }
                        twoServers.update(
                                twos.get(p).getId(),
                                new NDArray[] {
                                    copies[p][0].getGradient(), copies[p][1].getGradient()
                                },
                                copies[p]);
                    }
                }
                assertEquals(step, single.getStep());
                assertEquals(step, parallel.getStep(), "one step count per optimizer step");
            }
            for (int p = 0; p < ones.size(); p++) {
                NDArray expected = ones.get(p).getArray();
                for (int d = 0; d < 2; d++) {
                    double err = ParityCheck.relativeError(copies[p][d], expected);
                    assertTrue(err < 1e-6, ones.get(p).getName() + " copy " + d + ": " + err);
                }
                // the updates moved the weights (a test of nothing would pass too)
                assertTrue(
                        ParityCheck.relativeError(
                                        expected,
                                        block(manager).getParameters().get(p).getValue().getArray())
                                > 1e-3);
            }

            // the saved state is one device's, and restores every copy: both resume alike
            Path file = dir.resolve("optimizer.npz");
            parallel.save(file, manager);
            single.save(dir.resolve("single.npz"), manager);
            MaskedAdamW resumed = adamW(two);
            resumed.load(file, two);
            resumed.identifyCopiesBy(devices::get);
            assertEquals(STEPS, resumed.getStep());
            MaskedAdamW singleResumed = adamW(one);
            singleResumed.load(dir.resolve("single.npz"), one);
            LocalParameterServer resumedServer = new LocalParameterServer(resumed);
            LocalParameterServer singleServer = new LocalParameterServer(singleResumed);
            for (int step = STEPS + 1; step <= STEPS + 2; step++) {
                for (int p = 0; p < ones.size(); p++) {
                    NDArray w = ones.get(p).getArray();
                    try (NDManager m = manager.newSubManager()) {
                        setGradient(
                                w,
                                gradient(m, w.getShape(), step, p, 0)
                                        .add(gradient(m, w.getShape(), step, p, 1)));
                        singleServer.update(
                                ones.get(p).getId(),
                                new NDArray[] {w.getGradient()},
                                new NDArray[] {w});
                        for (int d = 0; d < 2; d++) {
                            setGradient(copies[p][d], gradient(m, w.getShape(), step, p, d));
                        }
                        resumedServer.update(
                                twos.get(p).getId(),
                                new NDArray[] {
                                    copies[p][0].getGradient(), copies[p][1].getGradient()
                                },
                                copies[p]);
                    }
                }
            }
            assertEquals(STEPS + 2, resumed.getStep());
            for (int p = 0; p < ones.size(); p++) {
                for (int d = 0; d < 2; d++) {
                    double err = ParityCheck.relativeError(copies[p][d], ones.get(p).getArray());
                    assertTrue(err < 1e-6, "after resume, copy " + d + ": " + err);
                }
            }
        }
    }

    @Test
    void aBatchSplitInTwoTakesTheWholeBatchStep() throws Exception {
        // clip norms: far above the gradient (no clipping), and below it (clipping every step)
        for (float clip : new float[] {1e6f, 0.05f}) {
            Map<String, NDArray> whole = train(new Device[] {Device.cpu()}, clip);
            Map<String, NDArray> halves = train(new Device[] {Device.cpu(), Device.cpu()}, clip);
            for (Map.Entry<String, NDArray> e : whole.entrySet()) {
                double err = ParityCheck.relativeError(halves.get(e.getKey()), e.getValue());
                assertTrue(err < 1e-5, "clip " + clip + ", " + e.getKey() + ": " + err);
            }
        }
    }

    /** Three SGD steps (updates proportional to the gradient, unlike Adam's) with a split batch. */
    private static Map<String, NDArray> train(Device[] splitOver, float clip) {
        Map<String, NDArray> result = new LinkedHashMap<>();
        try (Model model = Model.newInstance("split", Device.cpu())) {
            model.setBlock(block(model.getNDManager()));
            Optimizer sgd = Optimizer.sgd().setLearningRateTracker(Tracker.fixed(0.5f)).build();
            DefaultTrainingConfig config =
                    new DefaultTrainingConfig(new SquaredError())
                            .optOptimizer(sgd)
                            .optDevices(new Device[] {Device.cpu()});
            try (Trainer trainer = model.newTrainer(config);
                    TrainingStep step = new TrainingStep(trainer, sgd, splitOver)) {
                for (int s = 0; s < 3; s++) {
                    try (NDManager m = trainer.getManager().newSubManager()) {
                        Engine.getInstance().setRandomSeed(70 + s);
                        // 6 rows: an uneven split is 3 + 3; 5 rows would be 2 + 3
                        int rows = 5 + s % 2;
                        NDList x = new NDList(m.randomNormal(new Shape(rows, 4)));
                        NDList y = new NDList(m.randomNormal(new Shape(rows, 3)));
                        Batch batch =
                                new Batch(
                                        m,
                                        x,
                                        y,
                                        rows,
                                        new StackBatchifier(),
                                        new StackBatchifier(),
                                        s,
                                        3);
                        step.run(batch, clip);
                    }
                }
            }
            for (Pair<String, Parameter> p : model.getBlock().getParameters()) {
                NDArray copy = p.getValue().getArray().duplicate();
                copy.detach();
                result.put(p.getKey(), copy);
            }
        }
        return result;
    }

    /** Mean squared error, its scale by a natively owned scalar (see {@link Constants}). */
    private static final class SquaredError extends Loss {
        SquaredError() {
            super("squared-error");
        }

        @Override
        public NDArray evaluate(NDList labels, NDList predictions) {
            NDArray d = predictions.singletonOrThrow().sub(labels.singletonOrThrow());
            return d.mul(d).mean();
        }
    }

    private static List<Parameter> parameters(Block block) {
        return block.getParameters().values();
    }

    /**
     * Sets an array's gradient as a backward pass would: d(sum(w ⊙ g))/dw = g (the gradients are
     * zero before: the optimizers clear them after each update).
     */
    private static void setGradient(NDArray w, NDArray g) {
        try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            NDArray contribution = w.mul(g).sum();
            collector.backward(contribution);
        }
    }
}
