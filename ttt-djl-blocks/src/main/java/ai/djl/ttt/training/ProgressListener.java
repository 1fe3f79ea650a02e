package ai.djl.ttt.training;

import ai.djl.training.Trainer;
import ai.djl.training.listener.EvaluatorTrainingListener;
import ai.djl.training.listener.TrainingListenerAdapter;
import ai.djl.training.util.ProgressBar;
import java.io.PrintStream;
import java.util.Locale;

/**
 * Shows training progress with DJL's {@link ProgressBar}: the smoothed training loss (nats per
 * token, from DJL's loss evaluator), tokens per second and the learning rate; and a log line every
 * {@code validateEvery} steps.
 *
 * <p>The bar redraws itself in place, which floods a log that is not a terminal: it is drawn only
 * when the JVM has a console (DJL's bar writes to standard output), and the log lines carry the
 * same figures either way.
 */
public final class ProgressListener extends TrainingListenerAdapter {

    private final TrainingSettings settings;
    private final TrainingState state;
    private final PrintStream log;
    private final ProgressBar bar;
    private double smoothedLoss = Double.NaN;
    private long startNanos;
    private long startTokens;

    /**
     * Creates the listener.
     *
     * @param settings the run's settings
     * @param state the run's state (step and tokens, updated by the loop)
     * @param log where log lines go
     */
    public ProgressListener(TrainingSettings settings, TrainingState state, PrintStream log) {
        this.settings = settings;
        this.state = state;
        this.log = log;
        this.bar = System.console() != null ? new ProgressBar("Training", settings.steps()) : null;
    }

    /** {@inheritDoc} */
    @Override
    public void onTrainingBegin(Trainer trainer) {
        startNanos = System.nanoTime();
        startTokens = state.tokensSeen;
        if (bar != null) {
            bar.start(state.step);
        }
    }

    /** {@inheritDoc} */
    @Override
    public void onTrainingBatch(Trainer trainer, BatchData batchData) {
        float loss = trainer.getLoss().getAccumulator(EvaluatorTrainingListener.TRAIN_ALL);
        smoothedLoss = Double.isNaN(smoothedLoss) ? loss : 0.9 * smoothedLoss + 0.1 * loss;
        String status =
                String.format(
                        Locale.ROOT,
                        "step %d/%d  loss %.3f  %.0f tok/s",
                        state.step,
                        settings.steps(),
                        smoothedLoss,
                        tokensPerSecond());
        if (bar != null) {
            bar.update(state.step - 1, status);
        }
        if (state.step % settings.validateEvery() == 0 || state.step == settings.steps()) {
            log.println();
            log.println(status);
        }
    }

    /**
     * Returns the training throughput since this listener started.
     *
     * @return tokens per second
     */
    public double tokensPerSecond() {
        double seconds = (System.nanoTime() - startNanos) / 1e9;
        return seconds > 0 ? (state.tokensSeen - startTokens) / seconds : 0;
    }

    /**
     * Returns the exponentially smoothed training loss.
     *
     * @return nats per token
     */
    public double getSmoothedLoss() {
        return smoothedLoss;
    }
}
