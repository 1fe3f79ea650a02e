package ai.djl.ttt.zoo;

import ai.djl.modality.Input;
import ai.djl.modality.Output;
import ai.djl.ndarray.NDList;
import ai.djl.translate.NoBatchifyTranslator;
import ai.djl.translate.TranslatorContext;
import ai.djl.ttt.lm.SamplingConfig;
import ai.djl.ttt.training.Tokenizer;
import com.google.gson.Gson;
import com.google.gson.JsonObject;
import java.util.Map;

/**
 * DJL Serving's protocol: {@link Input} → {@link Output}. The request body is JSON {@code
 * {"inputs": "a prompt", "parameters": {...}}} (or plain text: the prompt, with the defaults).
 *
 * <p>Parameters: {@code max_new_tokens}, {@code temperature}, {@code top_k}, {@code top_p}, {@code
 * seed}, {@code stop_tokens} (an array of token ids), {@code timeout_ms} (snake case as in DJL
 * Serving's text-generation handlers; the camel case of the {@code Criteria} arguments works too),
 * and {@code task}: {@code "generate"} (the default) answers {@code {"generated_text": "..."}},
 * {@code "score"} (which takes only {@code timeout_ms} besides) answers the text's per-token
 * log-likelihoods ({@link TextScore}) as {@code {"tokens": n, "log_likelihood": ..., "perplexity":
 * ..., "bits_per_byte": ..., "token_log_likelihoods": [...]}}. Defaults come from the translator
 * factory's arguments, i.e. the {@code Criteria} arguments and the model directory's {@code
 * serving.properties}.
 *
 * <p>Requests are parsed strictly ({@link ServingRequest}): an unknown or misplaced key, or a value
 * of the wrong type, is refused with a message naming it. The operator's {@link ServingLimits}
 * bound every request; a request may lower {@code max_new_tokens} and {@code timeout_ms}, never
 * raise them over the ceiling. A refused request throws an {@link IllegalArgumentException} (a
 * {@link RequestLimitException} for a limit), which the predictor wraps in a {@code
 * TranslateException}: DJL Serving answers 400 Bad Request with the message.
 */
public final class ServingTranslator
        implements NoBatchifyTranslator<Input, Output>, Limited.Translator {

    private static final String INNER = "ttt.serving.translator";
    private static final Gson GSON = new Gson();

    private final Tokenizer tokenizer;
    private final SamplingConfig defaults;
    private final ServingLimits limits;

    /**
     * Creates the translator.
     *
     * @param tokenizer the model's tokenizer
     * @param arguments default generation settings and limits, as the {@code Criteria} arguments
     *     name them
     * @throws IllegalArgumentException naming an invalid argument
     */
    public ServingTranslator(Tokenizer tokenizer, Map<String, ?> arguments) {
        this(
                tokenizer,
                TttTranslatorFactory.sampling(arguments),
                ServingLimits.fromArguments(arguments));
    }

    /**
     * Creates the translator.
     *
     * @param tokenizer the model's tokenizer
     * @param defaults the generation settings of a request that sets none
     * @param limits the operator's ceilings
     * @throws RequestLimitException if the defaults ask for more new tokens than the ceiling
     */
    public ServingTranslator(Tokenizer tokenizer, SamplingConfig defaults, ServingLimits limits) {
        limits.checkNewTokens(defaults.getMaxNewTokens());
        this.tokenizer = tokenizer;
        this.defaults = defaults;
        this.limits = limits;
    }

    /** {@inheritDoc} */
    @Override
    public ServingLimits getLimits() {
        return limits;
    }

    /** {@inheritDoc} */
    @Override
    public NDList processInput(TranslatorContext ctx, Input input) throws Exception {
        ServingRequest request = ServingRequest.parse(input, defaults);
        ServingLimits own = limits.withTimeout(limits.timeout(request.timeoutMs()));
        if (request.score()) {
            ScoringTranslator scoring = new ScoringTranslator(tokenizer, own);
            ctx.setAttachment(INNER, scoring);
            return scoring.processInput(ctx, request.text());
        }
        TextGenerationTranslator<String> generation =
                TextGenerationTranslator.plain(tokenizer, request.sampling(), own);
        ctx.setAttachment(INNER, generation);
        return generation.processInput(ctx, request.text());
    }

    /** {@inheritDoc} */
    @Override
    public Output processOutput(TranslatorContext ctx, NDList list) throws Exception {
        Object inner = ctx.getAttachment(INNER);
        JsonObject json = new JsonObject();
        if (inner instanceof ScoringTranslator scoring) {
            TextScore score = scoring.processOutput(ctx, list);
            json.addProperty("tokens", score.tokens().length);
            json.addProperty("log_likelihood", score.totalLogLikelihood());
            json.addProperty("perplexity", score.perplexity());
            json.addProperty("bits_per_byte", score.bitsPerByte());
            json.add("token_log_likelihoods", GSON.toJsonTree(score.logLikelihoods()));
        } else {
            @SuppressWarnings("unchecked")
            TextGenerationTranslator<String> generation = (TextGenerationTranslator<String>) inner;
            json.addProperty("generated_text", generation.processOutput(ctx, list));
        }
        Output output = new Output();
        output.addProperty("Content-Type", "application/json");
        output.add(GSON.toJson(json));
        return output;
    }
}
