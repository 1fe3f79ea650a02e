package ai.djl.ttt.examples;

import java.util.Locale;

/**
 * One recall training of {@code ttt long-context}: a contender at one learning rate, on the
 * scaffold's number of heads or another, with the paper's inner model or a variant. Its {@link
 * #key()} names the job on a worker's command line and its result file in the work folder, so a
 * study that is stopped and started again reuses every job that had finished.
 *
 * @param contender {@code layer:backbone}, e.g. {@code mlp:mamba}
 * @param learningRate the peak outer learning rate
 * @param heads the number of heads (the state of a fixed-state layer is {@code C²/heads} per layer
 *     and grows as heads shrink), 0 for the scaffold's
 * @param steps training steps
 * @param innerLr the TTT layer's inner base learning rate {@code ttt_base_lr}, 0 for the paper's
 * @param innerHidden the TTT-MLP inner model's hidden width as a multiple of the head dimension, 0
 *     for the paper's 4
 */
record RecallJob(
        String contender,
        float learningRate,
        int heads,
        int steps,
        double innerLr,
        int innerHidden) {

    /**
     * A job of the learning-rate sweep: the paper's layer on the scaffold.
     *
     * @param contender {@code layer:backbone}
     * @param learningRate the peak learning rate
     * @param steps training steps
     * @return the job
     */
    static RecallJob sweep(String contender, float learningRate, int steps) {
        return new RecallJob(contender, learningRate, 0, steps, 0, 0);
    }

    /**
     * Returns whether this is a sweep job (no variant).
     *
     * @return true when heads, inner rate and inner width are the defaults
     */
    boolean isSweep() {
        return heads == 0 && innerLr == 0 && innerHidden == 0;
    }

    /**
     * The job's name, e.g. {@code mlp:mamba lr=0.003 heads=0 steps=1000 inner-lr=0 inner-hidden=0}.
     *
     * @return a name that {@link #parse} reads back
     */
    String key() {
        return String.format(
                Locale.ROOT,
                "%s lr=%s heads=%d steps=%d inner-lr=%s inner-hidden=%d",
                contender,
                learningRate,
                heads,
                steps,
                innerLr,
                innerHidden);
    }

    /**
     * The name of the job's result file: its key with every character other than letters, digits,
     * dots and dashes replaced.
     *
     * @return the file name
     */
    String fileName() {
        return "recall-" + key().replaceAll("[^A-Za-z0-9.-]", "_") + ".json";
    }

    /**
     * Reads a job's {@link #key()}.
     *
     * @param key the key
     * @return the job
     * @throws IllegalArgumentException if the key is not one {@link #key()} writes
     */
    static RecallJob parse(String key) {
        String[] parts = key.trim().split(" ");
        if (parts.length != 6) {
            throw new IllegalArgumentException(
                    "a recall job is 'layer:backbone lr=X heads=N steps=N inner-lr=X"
                            + " inner-hidden=N', got '"
                            + key
                            + "'");
        }
        try {
            return new RecallJob(
                    parts[0],
                    Float.parseFloat(value(parts[1], "lr")),
                    Integer.parseInt(value(parts[2], "heads")),
                    Integer.parseInt(value(parts[3], "steps")),
                    Double.parseDouble(value(parts[4], "inner-lr")),
                    Integer.parseInt(value(parts[5], "inner-hidden")));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad number in recall job '" + key + "'", e);
        }
    }

    private static String value(String part, String name) {
        if (!part.startsWith(name + "=")) {
            throw new IllegalArgumentException(
                    "expected " + name + "=... in a recall job, got " + part);
        }
        return part.substring(name.length() + 1);
    }
}
