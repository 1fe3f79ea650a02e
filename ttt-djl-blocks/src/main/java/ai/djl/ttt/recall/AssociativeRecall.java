package ai.djl.ttt.recall;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Multi-query associative recall (MQAR; Arora et al., "Zoology", 2023): sequences of key–value
 * pairs followed by queries of earlier keys, where a model must emit the value that was paired with
 * the queried key. It measures how much of a context a sequence layer can recall.
 *
 * <p>A sequence of length {@code L} with {@code N} pairs, token 0 being padding:
 *
 * <pre>
 * k₁ v₁ k₂ v₂ … k_N v_N | 0 0 k₃ v₃ 0 0 0 0 k₁ v₁ … 0 0
 *  context (2N tokens)  |  queries: every key once, in random order, in 2-token slots
 * </pre>
 *
 * Keys are drawn without replacement from {@code [1, 1 + K)} and values without replacement from
 * {@code [1 + K, vocabularySize)}, {@code K = (vocabularySize − 1) / 2}, so every query has exactly
 * one answer. The query slots are drawn with probability proportional to {@code (slot + 1)^(a − 1)}
 * (Zoology's power law, {@code a = 0.01} by default: most queries come soon after the context, some
 * far from it). The value follows its key in the input too (teacher forcing), and only the
 * positions of query keys are scored: {@link Sample#targets()} holds the value there and {@value
 * #IGNORED} elsewhere.
 *
 * @param vocabularySize V, including the padding token 0
 * @param pairs N, the key–value pairs per sequence
 * @param length L, tokens per sequence
 * @param powerA the power law's exponent {@code a} of the query placement, in (0, 1]
 */
public record AssociativeRecall(int vocabularySize, int pairs, int length, double powerA) {

    /** The target of positions that are not scored. */
    public static final long IGNORED = -1;

    /** The padding token. */
    public static final long PAD = 0;

    /**
     * Validates the settings.
     *
     * @param vocabularySize V, including the padding token 0
     * @param pairs N
     * @param length L
     * @param powerA a, in (0, 1]
     * @throws IllegalArgumentException naming the first setting that cannot work
     */
    public AssociativeRecall {
        if (pairs < 1) {
            throw new IllegalArgumentException("pairs must be >= 1, got " + pairs);
        }
        int keys = (vocabularySize - 1) / 2;
        if (keys < pairs || vocabularySize - 1 - keys < pairs) {
            throw new IllegalArgumentException(
                    "a vocabulary of "
                            + vocabularySize
                            + " has "
                            + keys
                            + " keys and "
                            + (vocabularySize - 1 - keys)
                            + " values; "
                            + pairs
                            + " pairs need at least "
                            + (2 * pairs + 1)
                            + " tokens");
        }
        if (length < 4 * pairs) {
            throw new IllegalArgumentException(
                    "a sequence of "
                            + length
                            + " tokens cannot hold "
                            + pairs
                            + " pairs and their queries: need length >= 4 x pairs = "
                            + 4 * pairs);
        }
        if (!(powerA > 0 && powerA <= 1)) {
            throw new IllegalArgumentException("powerA must be in (0, 1], got " + powerA);
        }
    }

    /**
     * The Zoology defaults for the query placement ({@code a = 0.01}).
     *
     * @param vocabularySize V
     * @param pairs N
     * @param length L
     * @return the task
     */
    public static AssociativeRecall of(int vocabularySize, int pairs, int length) {
        return new AssociativeRecall(vocabularySize, pairs, length, 0.01);
    }

    /**
     * One sequence and what is scored in it.
     *
     * @param tokens the input, {@code L} token ids
     * @param targets the value to predict at each query key's position, {@link #IGNORED} elsewhere
     */
    public record Sample(long[] tokens, long[] targets) {

        /**
         * Returns the positions that are scored.
         *
         * @return the query keys' positions, ascending
         */
        public int[] queryPositions() {
            List<Integer> positions = new ArrayList<>();
            for (int i = 0; i < targets.length; i++) {
                if (targets[i] != IGNORED) {
                    positions.add(i);
                }
            }
            return positions.stream().mapToInt(Integer::intValue).toArray();
        }
    }

    /**
     * Generates sequences; the same seed gives the same sequences.
     *
     * @param count how many
     * @param seed the seed
     * @return the samples
     */
    public List<Sample> generate(int count, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        List<Sample> samples = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            samples.add(sample(random));
        }
        return samples;
    }

    private Sample sample(SplittableRandom random) {
        int keyCount = (vocabularySize - 1) / 2;
        long[] keys = choose(random, 1, keyCount, pairs);
        long[] values = choose(random, 1 + keyCount, vocabularySize - 1 - keyCount, pairs);
        long[] tokens = new long[length];
        long[] targets = new long[length];
        Arrays.fill(targets, IGNORED);
        for (int p = 0; p < pairs; p++) {
            tokens[2 * p] = keys[p];
            tokens[2 * p + 1] = values[p];
        }
        int slots = (length - 2 * pairs) / 2;
        int[] chosen = placeQueries(random, slots);
        int[] order = permutation(random, pairs);
        for (int q = 0; q < pairs; q++) {
            int at = 2 * pairs + 2 * chosen[q];
            int pair = order[q];
            tokens[at] = keys[pair];
            tokens[at + 1] = values[pair];
            targets[at] = values[pair];
        }
        return new Sample(tokens, targets);
    }

    /** N distinct slots, drawn one by one with weights (slot + 1)^(a − 1), ascending. */
    private int[] placeQueries(SplittableRandom random, int slots) {
        double[] weights = new double[slots];
        double total = 0;
        for (int s = 0; s < slots; s++) {
            weights[s] = Math.pow(s + 1, powerA - 1);
            total += weights[s];
        }
        int[] chosen = new int[pairs];
        for (int q = 0; q < pairs; q++) {
            double u = random.nextDouble() * total;
            int s = 0;
            while (s < slots - 1 && (weights[s] == 0 || u >= weights[s])) {
                u -= weights[s];
                s++;
            }
            while (weights[s] == 0) { // rounding at the end: take the last free slot
                s--;
            }
            chosen[q] = s;
            total -= weights[s];
            weights[s] = 0;
        }
        Arrays.sort(chosen);
        return chosen;
    }

    /** {@code count} distinct ids from {@code [from, from + range)}, in random order. */
    private static long[] choose(SplittableRandom random, int from, int range, int count) {
        int[] all = permutation(random, range);
        long[] ids = new long[count];
        for (int i = 0; i < count; i++) {
            ids[i] = from + all[i];
        }
        return ids;
    }

    private static int[] permutation(SplittableRandom random, int n) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }
}
