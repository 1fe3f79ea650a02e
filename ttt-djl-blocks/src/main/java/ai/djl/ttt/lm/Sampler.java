package ai.djl.ttt.lm;

import java.util.Arrays;
import java.util.Random;

/**
 * Picks the next token from a row of logits: argmax at temperature 0, otherwise a draw from {@code
 * softmax(logits / temperature)} restricted to the top-k tokens and to the top-p nucleus. DJL's
 * {@code TextGenerator} has only greedy, beam and contrastive search.
 */
public final class Sampler {

    private final SamplingConfig config;
    private final Random random;

    /**
     * Creates a sampler for one sequence.
     *
     * @param config the sampling settings
     */
    public Sampler(SamplingConfig config) {
        this.config = config;
        this.random = new Random(config.getSeed());
    }

    /**
     * Picks a token.
     *
     * @param logits the logits of the next token, length V
     * @return the token id
     */
    public long next(float[] logits) {
        if (config.getTemperature() == 0) {
            return argmax(logits);
        }
        int v = logits.length;
        Integer[] order = new Integer[v];
        for (int i = 0; i < v; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Float.compare(logits[b], logits[a]));
        int keep = config.getTopK() > 0 ? Math.min(config.getTopK(), v) : v;
        double max = logits[order[0]];
        double[] p = new double[keep];
        double sum = 0;
        for (int i = 0; i < keep; i++) {
            p[i] = Math.exp((logits[order[i]] - max) / config.getTemperature());
            sum += p[i];
        }
        // nucleus: the smallest prefix whose mass reaches top-p
        double mass = 0;
        int nucleus = keep;
        for (int i = 0; i < keep; i++) {
            mass += p[i] / sum;
            if (mass >= config.getTopP()) {
                nucleus = i + 1;
                break;
            }
        }
        double total = 0;
        for (int i = 0; i < nucleus; i++) {
            total += p[i];
        }
        double r = random.nextDouble() * total;
        for (int i = 0; i < nucleus; i++) {
            r -= p[i];
            if (r < 0) {
                return order[i];
            }
        }
        return order[nucleus - 1];
    }

    private static long argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        return best;
    }
}
