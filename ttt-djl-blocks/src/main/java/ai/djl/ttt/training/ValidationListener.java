package ai.djl.ttt.training;

import ai.djl.training.Trainer;
import ai.djl.training.listener.TrainingListenerAdapter;
import java.io.PrintStream;
import java.util.Locale;

/**
 * Measures the validation loss every {@code validateEvery} steps and after the last step, records
 * it in the {@link TrainingState} and logs it in nats per token and bits per byte.
 */
public final class ValidationListener extends TrainingListenerAdapter {

    private final TrainingSettings settings;
    private final TrainingState state;
    private final LmTraining.Evaluation evaluation;
    private final PrintStream log;

    ValidationListener(
            TrainingSettings settings,
            TrainingState state,
            LmTraining.Evaluation evaluation,
            PrintStream log) {
        this.settings = settings;
        this.state = state;
        this.evaluation = evaluation;
        this.log = log;
    }

    /** {@inheritDoc} */
    @Override
    public void onTrainingBatch(Trainer trainer, BatchData batchData) {
        if (state.step % settings.validateEvery() != 0 && state.step != settings.steps()) {
            return;
        }
        TrainingState.Evaluation e = evaluation.validate(trainer.getModel(), state.step);
        state.validations.add(e);
        log.printf(
                Locale.ROOT,
                "step %d: validation loss %.4f nats/token, %.3f bits/byte%n",
                e.step(),
                e.loss(),
                e.bitsPerByte());
    }
}
