package ai.djl.ttt.zoo;

import ai.djl.Model;
import ai.djl.modality.Input;
import ai.djl.modality.Output;
import ai.djl.ndarray.NDList;
import ai.djl.translate.NoopTranslator;
import ai.djl.translate.TranslateException;
import ai.djl.translate.Translator;
import ai.djl.translate.TranslatorFactory;
import ai.djl.ttt.lm.CausalLm;
import ai.djl.ttt.lm.SamplingConfig;
import ai.djl.ttt.runtime.Precision;
import ai.djl.ttt.training.Tokenizer;
import ai.djl.util.Pair;
import java.io.IOException;
import java.io.Serializable;
import java.lang.reflect.Type;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;

/**
 * Makes the translators of ttt-djl language models:
 *
 * <ul>
 *   <li>{@code String → String}: text generation ({@link TextGenerationTranslator#plain});
 *   <li>{@link GenerationRequest} {@code → String}: generation that streams its text;
 *   <li>{@code String → }{@link TextScore}: per-token log-likelihood ({@link ScoringTranslator});
 *   <li>{@code NDList → NDList}: the raw block ({@code [ids] → [logits]}, {@code [ids, state...] →
 *       [logits, state...]});
 *   <li>{@link Input} {@code → }{@link Output}: DJL Serving's protocol, JSON {@code {"inputs": ...,
 *       "parameters": {...}}} in, generated text or scores out ({@link ServingTranslator}).
 * </ul>
 *
 * Generation settings come from the {@code Criteria} arguments: {@code maxNewTokens} (64), {@code
 * temperature} (0.8, as {@code ttt generate}; 0 is greedy), {@code topK} (40, as {@code ttt
 * generate}; 0 keeps all), {@code topP} (1), {@code seed} (42) and {@code stopTokens}
 * (comma-separated ids). The operator's ceilings ({@link ServingLimits}: {@code maxPromptTokens},
 * {@code maxNewTokensLimit}, {@code maxBatchSize}, {@code timeoutMs}) bound every translator the
 * factory makes. The tokenizer is the model directory's, or the argument {@value #TOKENIZER}. The
 * same keys in the model directory's {@code serving.properties} are defaults that {@code Criteria}
 * arguments override (DJL's own loader and the ttt zoo both pass them). The argument {@value
 * #DTYPE} ({@code float32} or {@code float16}) sets the model's precision ({@link
 * CausalLm#setPrecision}) when the translator is made. The factory is {@link Serializable}, as DJL
 * Serving may need to ship it.
 */
public final class TttTranslatorFactory implements TranslatorFactory, Serializable {

    private static final long serialVersionUID = 1L;

    /** The argument key of a {@link Tokenizer} instance to use instead of the directory's. */
    public static final String TOKENIZER = "tokenizer";

    /** The default of {@code maxNewTokens}. */
    public static final int DEFAULT_MAX_NEW_TOKENS = 64;

    /**
     * The default temperature: sampled, as {@code ttt generate} (greedy decoding of a small model
     * soon repeats itself); {@code temperature 0} asks for greedy.
     */
    public static final double DEFAULT_TEMPERATURE = 0.8;

    /** The default top-k, as {@code ttt generate}. */
    public static final int DEFAULT_TOP_K = 40;

    /** The default seed, as {@code ttt generate}. */
    public static final long DEFAULT_SEED = 42;

    /**
     * The argument key of the precision the model infers in: {@code float32} (the default) or
     * {@code float16} ({@link CausalLm#setPrecision}); bfloat16 is refused.
     */
    public static final String DTYPE = "dtype";

    private static final Set<Pair<Type, Type>> SUPPORTED =
            Set.of(
                    new Pair<>(String.class, String.class),
                    new Pair<>(GenerationRequest.class, String.class),
                    new Pair<>(String.class, TextScore.class),
                    new Pair<>(NDList.class, NDList.class),
                    new Pair<>(Input.class, Output.class));

    /** {@inheritDoc} */
    @Override
    public Set<Pair<Type, Type>> getSupportedTypes() {
        return SUPPORTED;
    }

    /** {@inheritDoc} */
    @Override
    @SuppressWarnings("unchecked")
    public <I, O> Translator<I, O> newInstance(
            Class<I> input, Class<O> output, Model model, Map<String, ?> arguments)
            throws TranslateException {
        Precision precision = precision(arguments);
        if (model.getBlock() instanceof CausalLm lm && lm.getPrecision() != precision) {
            lm.setPrecision(precision); // the model's, whatever the translator
        }
        if (input == NDList.class && output == NDList.class) {
            return (Translator<I, O>) new NoopTranslator();
        }
        if (!isSupported(input, output)) {
            throw new IllegalArgumentException(
                    "ttt-djl translators are String→String, GenerationRequest→String,"
                            + " String→TextScore, NDList→NDList and Input→Output; got "
                            + input.getSimpleName()
                            + "→"
                            + output.getSimpleName());
        }
        // bad defaults and limits fail at load time, not at the first request
        SamplingConfig sampling = sampling(arguments);
        ServingLimits limits = ServingLimits.fromArguments(arguments);
        Tokenizer tokenizer = tokenizer(model, arguments);
        if (input == Input.class) {
            return (Translator<I, O>) new ServingTranslator(tokenizer, sampling, limits);
        }
        if (output == TextScore.class) {
            return (Translator<I, O>) new ScoringTranslator(tokenizer, limits);
        }
        return (Translator<I, O>)
                (input == String.class
                        ? TextGenerationTranslator.plain(tokenizer, sampling, limits)
                        : TextGenerationTranslator.streaming(tokenizer, sampling, limits));
    }

    private static Tokenizer tokenizer(Model model, Map<String, ?> arguments)
            throws TranslateException {
        Object given = arguments.get(TOKENIZER);
        if (given instanceof Tokenizer) {
            return (Tokenizer) given;
        }
        Path dir = model.getModelPath();
        try {
            return Tokenizer.load(dir);
        } catch (IOException e) {
            throw new TranslateException(
                    "text translators need the model's tokenizer: " + e.getMessage(), e);
        }
    }

    /**
     * Reads the precision from {@code Criteria} arguments (or {@code serving.properties}): the
     * argument {@value #DTYPE}, {@code float32} when absent.
     *
     * @param arguments the arguments
     * @return the precision
     * @throws IllegalArgumentException for bfloat16 (naming DJL's limitation) or an unknown name
     */
    public static Precision precision(Map<String, ?> arguments) {
        Object value = arguments == null ? null : arguments.get(DTYPE);
        return value == null ? Precision.FLOAT32 : Precision.parse(value.toString());
    }

    /**
     * Reads the generation settings from {@code Criteria} arguments.
     *
     * @param arguments the arguments
     * @return the settings
     */
    public static SamplingConfig sampling(Map<String, ?> arguments) {
        return SamplingConfig.builder()
                .optMaxNewTokens(
                        Arguments.intAtLeast(arguments, "maxNewTokens", DEFAULT_MAX_NEW_TOKENS, 1))
                .optTemperature(
                        Arguments.doubleValue(
                                arguments, "temperature", DEFAULT_TEMPERATURE, "a number >= 0"))
                .optTopK(Arguments.intAtLeast(arguments, "topK", DEFAULT_TOP_K, 0))
                .optTopP(Arguments.doubleValue(arguments, "topP", 1, "a number in (0, 1]"))
                .optSeed(Arguments.longValue(arguments, "seed", DEFAULT_SEED, "an integer"))
                .optStopTokens(Arguments.stopTokens(arguments, "stopTokens"))
                .build();
    }
}
