package ai.djl.ttt.zoo;

import ai.djl.translate.TranslatorContext;
import ai.djl.ttt.runtime.Deadline;

/**
 * The translators' side of {@link ServingLimits}: each input of a prediction is counted against the
 * batch ceiling, and gets its deadline, before anything is allocated for it.
 */
final class Limited {

    private static final String COUNT = "ai.djl.ttt.limits.inputs";
    private static final String DEADLINE = "ai.djl.ttt.limits.deadline";

    private Limited() {}

    /** A translator whose predictions are bounded; a predictor checks a batch's size up front. */
    interface Translator {
        /**
         * Returns the limits.
         *
         * @return the limits
         */
        ServingLimits getLimits();
    }

    /**
     * Counts an input of the context (a {@code batchPredict} processes several through one) and
     * starts its deadline.
     *
     * @param ctx the prediction's context
     * @param limits the limits
     * @throws RequestLimitException if the batch is over the ceiling
     */
    static void begin(TranslatorContext ctx, ServingLimits limits) {
        Integer count = (Integer) ctx.getAttachment(COUNT);
        int n = count == null ? 1 : count + 1;
        limits.checkBatch(n);
        ctx.setAttachment(COUNT, n);
        ctx.setAttachment(DEADLINE, Deadline.after(limits.timeout()));
    }

    /**
     * Returns the deadline of the context's current input.
     *
     * @param ctx the context
     * @return the deadline ({@link Deadline#NONE} if {@link #begin} was not called)
     */
    static Deadline deadline(TranslatorContext ctx) {
        Deadline d = (Deadline) ctx.getAttachment(DEADLINE);
        return d == null ? Deadline.NONE : d;
    }
}
