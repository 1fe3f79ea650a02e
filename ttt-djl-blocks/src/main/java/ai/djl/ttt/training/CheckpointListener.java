package ai.djl.ttt.training;

import ai.djl.training.Trainer;
import ai.djl.training.listener.TrainingListenerAdapter;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/**
 * Saves the model, the tokenizer, the optimizer state and the {@link TrainingState} to the model
 * directory every {@code checkpointEvery} steps and after the last step ({@link ModelDirectory},
 * atomic writes), so that a run can be resumed.
 */
public final class CheckpointListener extends TrainingListenerAdapter {

    private final TrainingSettings settings;
    private final TrainingState state;
    private final Path modelDir;
    private final Tokenizer tokenizer;
    private final MaskedAdamW optimizer;
    private final PrintStream log;

    CheckpointListener(
            TrainingSettings settings,
            TrainingState state,
            Path modelDir,
            Tokenizer tokenizer,
            MaskedAdamW optimizer,
            PrintStream log) {
        this.settings = settings;
        this.state = state;
        this.modelDir = modelDir;
        this.tokenizer = tokenizer;
        this.optimizer = optimizer;
        this.log = log;
    }

    /** {@inheritDoc} */
    @Override
    public void onTrainingBatch(Trainer trainer, BatchData batchData) {
        boolean periodic =
                settings.checkpointEvery() > 0 && state.step % settings.checkpointEvery() == 0;
        if (!periodic && state.step != settings.steps()) {
            return;
        }
        try {
            ModelDirectory.save(modelDir, trainer.getModel(), tokenizer, optimizer, state);
            log.println("step " + state.step + ": checkpoint saved to " + modelDir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot save a checkpoint to " + modelDir, e);
        }
    }
}
