package ai.djl.ttt.training;

import ai.djl.metric.Dimension;
import ai.djl.metric.Metric;
import ai.djl.metric.Metrics;
import ai.djl.metric.Unit;
import ai.djl.nn.Block;
import ai.djl.training.Trainer;
import ai.djl.training.listener.TrainingListenerAdapter;
import ai.djl.ttt.lm.CausalLm;
import ai.djl.ttt.nn.TttLayer;
import ai.djl.ttt.nn.inner.InnerLossStats;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Reports what the hidden states learn inside the training sequences: every {@code every} steps,
 * the TTT layers measure their inner loss ({@link InnerLossStats}) during that step's forward, and
 * this listener adds it to the trainer's DJL {@link Metrics} and prints one log line.
 *
 * <p>Metrics, one value per TTT layer and measured step, with a {@code layer} {@link Dimension}:
 * {@value #INITIAL} (the loss with {@code W_0}), {@value #BEFORE} (with the weights before each
 * mini-batch's update) and {@value #AFTER} (after it), each the mean over the sequence's full
 * mini-batches. Measuring only on those steps keeps the cost (three extra passes of the inner model
 * per mini-batch) off the other steps. Does nothing for a model without TTT layers.
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
        arm(trainer, state.step + 1);
    }

    /** {@inheritDoc} */
    @Override
    public void onTrainingBatch(Trainer trainer, BatchData batchData) {
        List<TttLayer> layers = tttLayers(trainer.getModel().getBlock());
        if (!layers.isEmpty() && layers.get(0).isRecordingInnerLoss()) {
            report(trainer.getMetrics(), layers);
        }
        arm(trainer, state.step + 1);
    }

    /** {@inheritDoc} */
    @Override
    public void onTrainingEnd(Trainer trainer) {
        for (TttLayer layer : tttLayers(trainer.getModel().getBlock())) {
            layer.setRecordInnerLoss(false);
        }
    }

    /** Turns recording on for the forward of {@code step} only. */
    private void arm(Trainer trainer, int step) {
        boolean record = step % every == 0;
        for (TttLayer layer : tttLayers(trainer.getModel().getBlock())) {
            layer.setRecordInnerLoss(record);
        }
    }

    private void report(Metrics metrics, List<TttLayer> layers) {
        List<InnerLossStats> all = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            InnerLossStats stats = layers.get(i).getLastInnerLoss().orElse(null);
            if (stats == null || stats.size() == 0) {
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

    private static List<TttLayer> tttLayers(Block block) {
        return block instanceof CausalLm lm ? lm.getTttLayers() : List.of();
    }
}
