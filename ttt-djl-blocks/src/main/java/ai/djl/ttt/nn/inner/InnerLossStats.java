package ai.djl.ttt.nn.inner;

import java.util.Arrays;
import java.util.Locale;

/**
 * What the hidden state learned inside one sequence: the inner (self-supervised) loss of every full
 * mini-batch of a forward pass, measured with three sets of inner weights — the JAX code's {@code
 * ttt_stats} and Figure 5 of the paper:
 *
 * <ul>
 *   <li>{@code initial}: the weights the chunk started with ({@code W_0} for a fresh sequence), so
 *       no learning from this sequence at all;
 *   <li>{@code before}: the weights before mini-batch {@code i}'s own update ({@code W_{i−1}}),
 *       which have learned from every earlier mini-batch;
 *   <li>{@code after}: the weights after the update ({@code W_i}).
 * </ul>
 *
 * <p>The loss of mini-batch {@code i} is the mean over its tokens, the heads, the sequences of the
 * batch and the f features of {@code (LN_h(f(XK; W)) − (XV − XK))²} (the JAX code measures only the
 * last token of each mini-batch). A hidden state that learns shows {@code initial > before >
 * after}, and {@code before} going down along the sequence.
 *
 * <p>Mini-batches cut by the start or end of a chunk (pending gradients) are left out.
 */
public final class InnerLossStats {

    private final float[] initial;
    private final float[] before;
    private final float[] after;

    /**
     * Creates the statistics of one forward pass.
     *
     * @param initial the loss with the chunk's initial weights, per full mini-batch
     * @param before the loss with the weights before each mini-batch's update
     * @param after the loss with the weights after each mini-batch's update
     */
    public InnerLossStats(float[] initial, float[] before, float[] after) {
        if (initial.length != before.length || before.length != after.length) {
            throw new IllegalArgumentException(
                    "expected three arrays of one length, got "
                            + initial.length
                            + ", "
                            + before.length
                            + ", "
                            + after.length);
        }
        this.initial = initial.clone();
        this.before = before.clone();
        this.after = after.clone();
    }

    /**
     * Returns the number of full mini-batches measured.
     *
     * @return the count
     */
    public int size() {
        return initial.length;
    }

    /**
     * Returns the loss of each mini-batch with the chunk's initial weights.
     *
     * @return a copy, one value per mini-batch
     */
    public float[] initial() {
        return initial.clone();
    }

    /**
     * Returns the loss of each mini-batch with the weights before its update.
     *
     * @return a copy, one value per mini-batch
     */
    public float[] before() {
        return before.clone();
    }

    /**
     * Returns the loss of each mini-batch with the weights after its update.
     *
     * @return a copy, one value per mini-batch
     */
    public float[] after() {
        return after.clone();
    }

    /**
     * Returns the mean over mini-batches of {@link #initial()}.
     *
     * @return the mean, NaN when there is no full mini-batch
     */
    public double meanInitial() {
        return mean(initial);
    }

    /**
     * Returns the mean over mini-batches of {@link #before()}.
     *
     * @return the mean, NaN when there is no full mini-batch
     */
    public double meanBefore() {
        return mean(before);
    }

    /**
     * Returns the mean over mini-batches of {@link #after()}.
     *
     * @return the mean, NaN when there is no full mini-batch
     */
    public double meanAfter() {
        return mean(after);
    }

    /**
     * Averages statistics of several forward passes with the same number of mini-batches, element
     * by element (e.g. the layers of a model, or several batches).
     *
     * @param stats the statistics, at least one
     * @return the element-wise mean
     */
    public static InnerLossStats average(Iterable<InnerLossStats> stats) {
        float[][] sums = null;
        int count = 0;
        for (InnerLossStats s : stats) {
            if (sums == null) {
                sums = new float[3][s.size()];
            } else if (sums[0].length != s.size()) {
                throw new IllegalArgumentException(
                        "expected " + sums[0].length + " mini-batches, got " + s.size());
            }
            for (int i = 0; i < s.size(); i++) {
                sums[0][i] += s.initial[i];
                sums[1][i] += s.before[i];
                sums[2][i] += s.after[i];
            }
            count++;
        }
        if (sums == null) {
            throw new IllegalArgumentException("nothing to average");
        }
        for (float[] row : sums) {
            for (int i = 0; i < row.length; i++) {
                row[i] /= count;
            }
        }
        return new InnerLossStats(sums[0], sums[1], sums[2]);
    }

    private static double mean(float[] values) {
        double sum = 0;
        for (float v : values) {
            sum += v;
        }
        return values.length == 0 ? Double.NaN : sum / values.length;
    }

    /** {@inheritDoc} */
    @Override
    public String toString() {
        return String.format(
                Locale.ROOT,
                "InnerLossStats{%d mini-batches, mean initial %.4f, before %.4f, after %.4f}",
                size(),
                meanInitial(),
                meanBefore(),
                meanAfter());
    }

    /** {@inheritDoc} */
    @Override
    public boolean equals(Object o) {
        return o instanceof InnerLossStats s
                && Arrays.equals(initial, s.initial)
                && Arrays.equals(before, s.before)
                && Arrays.equals(after, s.after);
    }

    /** {@inheritDoc} */
    @Override
    public int hashCode() {
        return 31 * (31 * Arrays.hashCode(initial) + Arrays.hashCode(before))
                + Arrays.hashCode(after);
    }
}
