package ai.djl.ttt.training;

import java.util.Random;

/** A procedurally generated corpus with structure a small model can learn quickly. */
final class TestCorpus {

    private static final String[] SUBJECTS = {"the layer", "a model", "the state", "each token"};
    private static final String[] VERBS = {"reads", "updates", "learns", "stores"};
    private static final String[] OBJECTS = {
        "the weights.", "a gradient.", "its input.", "the sequence."
    };

    private TestCorpus() {}

    static String text(int sentences, long seed) {
        Random random = new Random(seed);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < sentences; i++) {
            sb.append(SUBJECTS[random.nextInt(SUBJECTS.length)])
                    .append(' ')
                    .append(VERBS[random.nextInt(VERBS.length)])
                    .append(' ')
                    .append(OBJECTS[random.nextInt(OBJECTS.length)])
                    .append(i % 5 == 4 ? "\n" : " ");
        }
        return sb.toString();
    }
}
