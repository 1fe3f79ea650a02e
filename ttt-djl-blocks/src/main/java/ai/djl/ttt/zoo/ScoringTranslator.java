package ai.djl.ttt.zoo;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.translate.NoBatchifyTranslator;
import ai.djl.translate.TranslatorContext;
import ai.djl.ttt.training.Tokenizer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Scores a text with a language model: the log-likelihood of each token given the ones before it,
 * from one forward pass ({@code String → }{@link TextScore}). Useful in pipelines to rank
 * candidates, detect unusual text, or measure a model on a document. The prediction runs with
 * autograd off on the predictor's thread ({@link ai.djl.ttt.runtime.NoGrad}).
 */
public final class ScoringTranslator
        implements NoBatchifyTranslator<String, TextScore>, Limited.Translator {

    private final Tokenizer tokenizer;
    private final ServingLimits limits;

    /**
     * Creates the translator, without limits.
     *
     * @param tokenizer the model's tokenizer
     */
    public ScoringTranslator(Tokenizer tokenizer) {
        this(tokenizer, ServingLimits.NONE);
    }

    /**
     * Creates the translator: a text over the prompt ceiling is refused before anything is
     * allocated; a prediction past its deadline stops before the scores are computed.
     *
     * @param tokenizer the model's tokenizer
     * @param limits the limits
     */
    public ScoringTranslator(Tokenizer tokenizer, ServingLimits limits) {
        this.tokenizer = tokenizer;
        this.limits = limits;
    }

    /** {@inheritDoc} */
    @Override
    public ServingLimits getLimits() {
        return limits;
    }

    /** {@inheritDoc} */
    @Override
    public NDList processInput(TranslatorContext ctx, String text) {
        Limited.begin(ctx, limits);
        if (text == null) {
            throw new IllegalArgumentException("expected a text to score, got null");
        }
        long[] ids = tokenizer.encode(text);
        if (ids.length < 2) {
            throw new IllegalArgumentException(
                    "scoring needs a text of at least 2 tokens, got " + ids.length);
        }
        limits.checkPrompt(ids.length); // before any array is allocated
        NoGradPrediction.begin(ctx);
        ctx.setAttachment("ids", ids);
        return new NDList(ctx.getNDManager().create(ids).reshape(1, ids.length));
    }

    /** {@inheritDoc} */
    @Override
    public TextScore processOutput(TranslatorContext ctx, NDList list) {
        long[] ids = (long[]) ctx.getAttachment("ids");
        Limited.deadline(ctx).check("the forward pass of " + ids.length + " tokens");
        int vocab = (int) list.head().getShape().get(2);
        NDArray logProbabilities = list.head().get(0).logSoftmax(1).get(":-1"); // (T - 1, V)
        NDArray next = ctx.getNDManager().create(Arrays.copyOfRange(ids, 1, ids.length));
        float[] picked = logProbabilities.mul(next.oneHot(vocab)).sum(new int[] {1}).toFloatArray();
        double[] logLikelihoods = new double[picked.length];
        for (int i = 0; i < picked.length; i++) {
            logLikelihoods[i] = picked[i];
        }
        long[] scored = Arrays.copyOfRange(ids, 1, ids.length);
        long bytes = tokenizer.decode(scored).getBytes(StandardCharsets.UTF_8).length;
        return new TextScore(ids, logLikelihoods, Math.max(1, bytes));
    }
}
