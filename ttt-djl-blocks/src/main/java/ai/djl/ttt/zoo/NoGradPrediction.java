package ai.djl.ttt.zoo;

import ai.djl.translate.TranslatorContext;
import ai.djl.ttt.runtime.NoGrad;

/**
 * Runs a prediction with autograd off: a DJL {@code Predictor} calls the translator, the model's
 * forward pass and the translator again on the caller's thread, where libtorch may record gradients
 * (see {@link NoGrad}). Turned off in {@code processInput}, restored when the prediction's manager
 * closes — after the output was processed, or after a failure. The predictors of a {@link
 * TttZooModel} already turn it off around the whole prediction; this is for the translators' use on
 * other predictors (a plain DJL {@code Model}'s, e.g. one loaded with {@code optModelPath}).
 */
final class NoGradPrediction {

    private static final String KEY = "ai.djl.ttt.noGrad";

    private NoGradPrediction() {}

    /**
     * Turns autograd off until the context's manager closes; once per context ({@code batchPredict}
     * processes several inputs in one).
     *
     * @param ctx the prediction's context
     */
    static void begin(TranslatorContext ctx) {
        if (ctx.getAttachment(KEY) == null) {
            NoGrad off = NoGrad.open(ctx.getNDManager());
            ctx.setAttachment(KEY, off);
            ctx.getNDManager().attachInternal(KEY, off);
        }
    }
}
