package ai.djl.ttt.training;

import ai.djl.metric.Dimension;
import ai.djl.metric.Metric;
import ai.djl.metric.Metrics;
import ai.djl.metric.Unit;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.listener.TrainingListenerAdapter;
import ai.djl.ttt.lm.CausalLm;
import ai.djl.ttt.nn.InnerLossRecorder;
import ai.djl.ttt.nn.inner.InnerLossStats;
import ai.djl.ttt.runtime.NoGrad;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Reports what the hidden states learn inside the training sequences: every {@code every} steps,
 * after the optimizer step, this listener runs the model once more on that step's batch, without
 * autograd, with an {@link InnerLossRecorder} among the forward-pass options; each TTT layer
 * returns its inner loss ({@link InnerLossStats}) through it, and the listener adds them to the
 * trainer's DJL {@link Metrics} and prints one log line. Nothing is switched on the blocks, so the
 * training forwards stay unmeasured and other threads using the model are unaffected.
 *
 * <p>Metrics, one value per TTT layer and measured step, with a {@code layer} {@link Dimension}:
 * {@value #INITIAL} (the loss with {@code W_0}), {@value #BEFORE} (with the weights before each
 * mini-batch's update) and {@value #AFTER} (after it), each the mean over the sequence's full
 * mini-batches. The extra pass costs about one inference forward with three extra passes of the
 * inner model per mini-batch, on the measured steps only. Does nothing for a model without TTT
 * layers.
 */
public final class InnerLossListener extends TrainingListenerAdapter {

    /** Metric name: inner loss with the sequence's initial weights. */
    public static final String INITIAL = "ttt_inner_loss_initial";

    /** Metric name: inner loss with the weights before each mini-batch's update. */
    public static final String BEFORE = "ttt_inner_loss_before";

    /** Metric name: inner loss with the weights after each mini-batch's update. */
    public static final String AFTER = "ttt_inner_loss_after";

    private final TrainingState state;
    private final int every;
    private final PrintStream log;

    /**
     * Creates the listener.
     *
     * @param state the run's state (its step counter chooses the measured steps)
     * @param every measure every this many steps
     * @param log where the log lines go
     */
    public InnerLossListener(TrainingState state, int every, PrintStream log) {
        if (every < 1) {
            throw new IllegalArgumentException("every must be >= 1, got " + every);
        }
        this.state = state;
        this.every = every;
        this.log = log;
    }

    /** {@inheritDoc} */
    @Override
    public void onTrainingBegin(Trainer trainer) {
        if (trainer.getMetrics() == null) {
            trainer.setMetrics(new Metrics());
        }
    }

    /** {@inheritDoc} */
    @Override
    public void onTrainingBatch(Trainer trainer, BatchData batchData) {
        Block block = trainer.getModel().getBlock();
        if (state.step % every != 0 || !(block instanceof CausalLm lm)) {
            return;
        }
        if (lm.getTttLayers().isEmpty()) {
            return;
        }
        NDList data = batchData.getBatch().getData();
        InnerLossRecorder recorder = new InnerLossRecorder();
        try (NDManager scratch = data.head().getManager().newSubManager();
                NoGrad off = NoGrad.open(scratch)) {
            ParameterStore ps = new ParameterStore(scratch, false);
            lm.forward(ps, data, false, recorder.asParams()).close(); // the logits are not needed
        }
        report(trainer.getMetrics(), recorder.stats());
    }

    private void report(Metrics metrics, List<InnerLossStats> layers) {
        List<InnerLossStats> all = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            InnerLossStats stats = layers.get(i);
            if (stats.size() == 0) {
                continue;
            }
            all.add(stats);
            Dimension layer = new Dimension("layer", String.valueOf(i));
            metrics.addMetric(new Metric(INITIAL, stats.meanInitial(), Unit.COUNT, layer));
            metrics.addMetric(new Metric(BEFORE, stats.meanBefore(), Unit.COUNT, layer));
            metrics.addMetric(new Metric(AFTER, stats.meanAfter(), Unit.COUNT, layer));
        }
        if (all.isEmpty()) {
            return;
        }
        InnerLossStats mean = InnerLossStats.average(all);
        log.printf(
                Locale.ROOT,
                "step %d  inner loss (mean of %d TTT layers, %d mini-batches): W0 %.4f  before"
                        + " update %.4f  after %.4f%n",
                state.step,
                all.size(),
                mean.size(),
                mean.meanInitial(),
                mean.meanBefore(),
                mean.meanAfter());
    }
}
