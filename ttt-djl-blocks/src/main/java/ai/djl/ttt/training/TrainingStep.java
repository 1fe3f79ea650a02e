package ai.djl.ttt.training;

import ai.djl.Device;
import ai.djl.TrainingDivergedException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.LocalParameterServer;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.Batch;
import ai.djl.training.listener.TrainingListener;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.ttt.nn.inner.Constants;
import ai.djl.ttt.runtime.ScanThreads;
import ai.djl.util.Pair;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One optimizer step of the recipe on DJL's data parallelism: the batch split over the trainer's
 * devices as {@code EasyTrain.trainBatch} splits it, forward and loss on each device, backward,
 * {@link GradientClipping} of the gradients the update will use (the devices' sum), then DJL's
 * {@link LocalParameterServer}: the gradients summed and every device's copy updated.
 *
 * <p>Each split's loss is weighted by its share of the batch's rows, so the summed gradient is the
 * gradient of the whole batch's mean loss: two devices with half a batch each take the step that
 * one device takes with the whole batch (DJL's {@code EasyTrain} sums the splits' mean losses'
 * gradients, a gradient as many times larger as there are devices, which matters to clipping).
 *
 * <p>Why not the {@link Trainer}'s own {@code forward} and {@code step}: the trainer keeps its
 * parameter copies private, and clipping needs every copy's gradient. This class keeps the copies
 * in its own {@link ParameterStore} (the trainer's holds none: do not call {@code
 * trainer.initialize}, which would make a second set of copies on other devices).
 */
public final class TrainingStep implements AutoCloseable {

    private final Trainer trainer;
    private final Device[] splitOver;
    private final NDManager manager;
    private final ParameterStore store;
    private final List<List<NDArray>> copies = new ArrayList<>();

    /**
     * Creates the step of a trainer: copies of every parameter on each of the trainer's devices.
     *
     * @param trainer the trainer (its devices, loss, gradient collector and listeners); its model's
     *     block initialised
     * @param optimizer the trainer's optimizer (DJL's {@code Trainer} does not expose it)
     * @throws IllegalArgumentException if the model's parameters are not on one of the trainer's
     *     devices (their arrays would never be updated)
     */
    public TrainingStep(Trainer trainer, Optimizer optimizer) {
        this(trainer, optimizer, trainer.getDevices());
    }

    /**
     * Creates a step whose batches are split over {@code splitOver}, which may name a device more
     * than once: on one CPU, a test splits a batch as two devices would.
     */
    TrainingStep(Trainer trainer, Optimizer optimizer, Device[] splitOver) {
        this.trainer = trainer;
        this.splitOver = splitOver.clone();
        Device[] devices = trainer.getDevices();
        Block block = trainer.getModel().getBlock();
        for (Pair<String, Parameter> p : block.getParameters()) {
            Device own = p.getValue().getArray().getDevice();
            if (!List.of(devices).contains(own)) {
                throw new IllegalArgumentException(
                        "the model's parameters are on "
                                + own
                                + ", not one of the trainer's devices "
                                + List.of(devices)
                                + ": the parameter server would update copies only");
            }
        }
        manager = trainer.getManager().newSubManager();
        store = new ParameterStore(manager, false);
        store.setParameterServer(new LocalParameterServer(optimizer), devices);
        for (Pair<String, Parameter> p : block.getParameters()) {
            Parameter parameter = p.getValue();
            // the parameter's own device first: its array is that device's copy, not a new one
            Device own = parameter.getArray().getDevice();
            // as Trainer.initialize would (block.initialize): a loaded array may not record yet
            if (parameter.requiresGradient() && !parameter.getArray().hasGradient()) {
                parameter.getArray().setRequiresGradient(true);
            }
            List<NDArray> arrays = new ArrayList<>();
            arrays.add(store.getValue(parameter, own, true));
            for (Device device : devices) {
                if (!device.equals(own)) {
                    arrays.add(store.getValue(parameter, device, true));
                }
            }
            if (parameter.requiresGradient()) {
                copies.add(arrays);
            }
        }
    }

    /**
     * Runs one step: forward, loss and backward on every split, clipping, update.
     *
     * @param batch the batch (data and labels), split over the devices along axis 0
     * @param clipNorm the largest global gradient norm
     * @return what the listeners need (DJL's loss evaluator reads it)
     */
    public TrainingListener.BatchData run(Batch batch, float clipNorm) {
        Batch[] splits = batch.split(splitOver, false);
        // rows as the splits hold them (Batch.getSize of a split can differ from its data's rows)
        long rows = 0;
        for (Batch split : splits) {
            rows += split.getData().head().getShape().get(0);
        }
        Map<Device, NDList> labelsOf = new ConcurrentHashMap<>();
        Map<Device, NDList> predictionsOf = new ConcurrentHashMap<>();
        Block block = trainer.getModel().getBlock();
        double lossSum = 0;
        try (GradientCollector collector = trainer.newGradientCollector()) {
            for (Batch split : splits) {
                NDList data = split.getData();
                NDList labels = split.getLabels();
                NDList predictions = block.forward(store, data, labels, null);
                NDArray loss = trainer.getLoss().evaluate(labels, predictions);
                if (splits.length > 1) {
                    // a native scalar: DJL's mul(Number) wraps Java memory that autograd keeps
                    long share = data.head().getShape().get(0);
                    loss = Constants.times(loss, (double) share / rows);
                }
                lossSum += loss.getFloat();
                // the TTT scans' backward is many small ops: run it with the scans' thread count
                ScanThreads.backward(collector, loss);
                Device device = labels.head().getDevice();
                labelsOf.put(device, labels);
                predictionsOf.put(device, predictions);
            }
        }
        float norm = GradientClipping.clipGlobalNorm(copies, clipNorm);
        if (!Double.isFinite(lossSum) || !Float.isFinite(norm)) {
            // before the update: the parameters (and any checkpoint) stay those of the last step
            throw new TrainingDivergedException(
                    "training diverged: the loss is "
                            + (float) lossSum
                            + " and the gradient norm "
                            + norm
                            + "; this step was not applied");
        }
        store.updateAllParameters();
        return new TrainingListener.BatchData(batch, labelsOf, predictionsOf);
    }

    /** Releases the copies on other devices (the parameters' own arrays stay). */
    @Override
    public void close() {
        manager.close();
    }
}
