package ai.djl.ttt.zoo;

/**
 * How likely a model finds a text: the output of the scoring translator.
 *
 * @param tokens the text's token ids
 * @param logLikelihoods {@code log p(token_{t+1} | tokens_{≤t})} for each token after the first, in
 *     nats
 * @param bytes the UTF-8 bytes of the scored tokens (all but the first)
 */
public record TextScore(long[] tokens, double[] logLikelihoods, long bytes) {

    /**
     * Returns the sum of the log-likelihoods.
     *
     * @return nats
     */
    public double totalLogLikelihood() {
        double sum = 0;
        for (double l : logLikelihoods) {
            sum += l;
        }
        return sum;
    }

    /**
     * Returns the perplexity, {@code exp(−mean log-likelihood)}.
     *
     * @return the perplexity per token
     */
    public double perplexity() {
        return Math.exp(-totalLogLikelihood() / logLikelihoods.length);
    }

    /**
     * Returns the negative log-likelihood per UTF-8 byte, in bits.
     *
     * @return bits per byte
     */
    public double bitsPerByte() {
        return -totalLogLikelihood() / (Math.log(2) * bytes);
    }
}
