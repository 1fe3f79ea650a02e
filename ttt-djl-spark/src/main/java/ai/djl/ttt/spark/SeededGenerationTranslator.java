package ai.djl.ttt.spark;

import ai.djl.ndarray.NDList;
import ai.djl.translate.NoBatchifyTranslator;
import ai.djl.translate.TranslatorContext;
import ai.djl.ttt.lm.SamplingConfig;
import ai.djl.ttt.training.Tokenizer;
import ai.djl.ttt.zoo.TextGenerationTranslator;
import ai.djl.ttt.zoo.TttTranslatorFactory;
import java.util.HashMap;
import java.util.Map;

/**
 * Text generation with a seed per prompt ({@link SeededPrompt} {@code → String}): each input is
 * continued by the zoo's {@link TextGenerationTranslator}, made for that input with the shared
 * sampling settings and the input's seed. So a row's continuation depends on its prompt and seed
 * only — not on which rows share its partition or its {@code batchPredict} call — which the zoo's
 * translator, whose seed is fixed per model, cannot give to rows that need different draws.
 */
public final class SeededGenerationTranslator
        implements NoBatchifyTranslator<SeededPrompt, String> {

    private static final String CURRENT = "ai.djl.ttt.spark.current";

    private final Tokenizer tokenizer;
    private final Map<String, ?> arguments;

    /**
     * Creates the translator.
     *
     * @param tokenizer the model's tokenizer
     * @param arguments the generation settings as {@code Criteria} arguments ({@code maxNewTokens},
     *     {@code temperature}, {@code topK}, {@code topP}, {@code stopTokens}); any {@code seed} is
     *     replaced by each input's
     */
    public SeededGenerationTranslator(Tokenizer tokenizer, Map<String, ?> arguments) {
        this.tokenizer = tokenizer;
        this.arguments = Map.copyOf(arguments);
        sampling(0L); // fails here, not per row, if a setting is invalid
    }

    /**
     * The sampling settings for one seed.
     *
     * @param seed the seed
     * @return the settings
     */
    SamplingConfig sampling(long seed) {
        Map<String, Object> withSeed = new HashMap<>(arguments);
        withSeed.put("seed", seed);
        return TttTranslatorFactory.sampling(withSeed);
    }

    /** {@inheritDoc} */
    @Override
    public NDList processInput(TranslatorContext ctx, SeededPrompt input) throws Exception {
        // batchPredict runs its inputs one after the other through one context
        TextGenerationTranslator<String> translator =
                TextGenerationTranslator.plain(tokenizer, sampling(input.seed()));
        ctx.setAttachment(CURRENT, translator);
        return translator.processInput(ctx, input.prompt());
    }

    /** {@inheritDoc} */
    @Override
    @SuppressWarnings("unchecked")
    public String processOutput(TranslatorContext ctx, NDList list) throws Exception {
        return ((TextGenerationTranslator<String>) ctx.getAttachment(CURRENT))
                .processOutput(ctx, list);
    }
}
