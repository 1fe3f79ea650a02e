package ai.djl.ttt.examples;

import ai.djl.training.Trainer;
import ai.djl.training.listener.EvaluatorTrainingListener;
import ai.djl.training.listener.TrainingListenerAdapter;

/**
 * Remembers the training loss of the last steps (DJL's loss evaluator, one value per batch), for a
 * report's "where did training end" column: a loss far above the task's floor says the run had not
 * converged, whatever the accuracy.
 */
final class LossTail extends TrainingListenerAdapter {

    private final double[] last;
    private int seen;

    /**
     * @param steps how many final steps the mean covers
     */
    LossTail(int steps) {
        last = new double[steps];
    }

    /** {@inheritDoc} */
    @Override
    public void onTrainingBatch(Trainer trainer, BatchData batchData) {
        last[seen++ % last.length] =
                trainer.getLoss().getAccumulator(EvaluatorTrainingListener.TRAIN_ALL);
    }

    /**
     * Returns the mean loss of the last steps seen.
     *
     * @return nats per scored token, NaN before the first step
     */
    double mean() {
        int n = Math.min(seen, last.length);
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += last[i];
        }
        return n == 0 ? Double.NaN : sum / n;
    }
}
