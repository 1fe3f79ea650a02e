package ai.djl.ttt.training;

/**
 * The outer-loop recipe of a training run (paper App. C, scaled down): AdamW with β = (0.9, 0.95)
 * and decoupled weight decay, linear warm-up then cosine decay of the learning rate, global-norm
 * clipping.
 *
 * @param steps optimizer steps in total
 * @param batchSize B, windows per step
 * @param contextLength T, tokens per window
 * @param learningRate the peak learning rate
 * @param finalLearningRate the learning rate at the end of the cosine
 * @param warmupSteps steps of linear warm-up from 0
 * @param weightDecay λ of AdamW (weights only, see {@link MaskedAdamW})
 * @param clipNorm the largest global gradient norm
 * @param validateEvery steps between validations (and a final one at the end)
 * @param checkpointEvery steps between checkpoints (0: only at the end)
 * @param seed the seed of initialisation and batch order
 */
public record TrainingSettings(
        int steps,
        int batchSize,
        int contextLength,
        float learningRate,
        float finalLearningRate,
        int warmupSteps,
        float weightDecay,
        float clipNorm,
        int validateEvery,
        int checkpointEvery,
        long seed) {

    /**
     * Validates the values.
     *
     * @param steps optimizer steps in total
     * @param batchSize B
     * @param contextLength T
     * @param learningRate the peak learning rate
     * @param finalLearningRate the learning rate at the end of the cosine
     * @param warmupSteps steps of linear warm-up
     * @param weightDecay λ of AdamW
     * @param clipNorm the largest global gradient norm
     * @param validateEvery steps between validations
     * @param checkpointEvery steps between checkpoints
     * @param seed the seed
     * @throws IllegalArgumentException naming the first invalid value
     */
    public TrainingSettings {
        positive("steps", steps);
        positive("batch size", batchSize);
        positive("context length", contextLength);
        positive("validate-every", validateEvery);
        if (warmupSteps < 0 || warmupSteps >= steps) {
            throw new IllegalArgumentException(
                    "warm-up steps must be in [0, steps=" + steps + "), got " + warmupSteps);
        }
        if (!(learningRate > 0) || !(finalLearningRate >= 0) || finalLearningRate > learningRate) {
            throw new IllegalArgumentException(
                    "need 0 <= final learning rate <= learning rate, 0 < learning rate; got "
                            + finalLearningRate
                            + " and "
                            + learningRate);
        }
        if (checkpointEvery < 0 || weightDecay < 0 || !(clipNorm > 0)) {
            throw new IllegalArgumentException(
                    "checkpoint-every and weight decay must be >= 0 and clip norm > 0");
        }
    }

    private static void positive(String name, int value) {
        if (value < 1) {
            throw new IllegalArgumentException(name + " must be >= 1, got " + value);
        }
    }
}
