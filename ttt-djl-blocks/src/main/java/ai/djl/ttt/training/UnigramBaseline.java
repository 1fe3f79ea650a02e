package ai.djl.ttt.training;

/**
 * The simplest language model of a corpus: each token drawn independently from its frequency in the
 * training split (add-one smoothed). Its cross-entropy on the validation split is the bar a trained
 * model must clear to have learned anything about context.
 */
public final class UnigramBaseline {

    private final double[] logProbabilities;

    /**
     * Counts the training tokens.
     *
     * @param trainTokens the training split
     * @param vocabSize V
     */
    public UnigramBaseline(long[] trainTokens, int vocabSize) {
        long[] counts = new long[vocabSize];
        for (long t : trainTokens) {
            counts[(int) t]++;
        }
        double total = trainTokens.length + vocabSize;
        logProbabilities = new double[vocabSize];
        for (int i = 0; i < vocabSize; i++) {
            logProbabilities[i] = Math.log((counts[i] + 1) / total);
        }
    }

    /**
     * Returns the mean negative log-likelihood of tokens.
     *
     * @param tokens the tokens to score
     * @return nats per token
     */
    public double crossEntropy(long[] tokens) {
        double sum = 0;
        for (long t : tokens) {
            sum -= logProbabilities[(int) t];
        }
        return sum / tokens.length;
    }

    /**
     * Converts a cross-entropy in nats per token to bits per UTF-8 byte of the text.
     *
     * @param natsPerToken the mean loss
     * @param tokens the number of tokens scored
     * @param bytes the number of UTF-8 bytes of the same text
     * @return bits per byte
     */
    public static double bitsPerByte(double natsPerToken, long tokens, long bytes) {
        return natsPerToken * tokens / (bytes * Math.log(2));
    }
}
