package ai.djl.ttt.zoo;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.translate.NoBatchifyTranslator;
import ai.djl.translate.TranslatorContext;
import ai.djl.ttt.lm.CausalLm;
import ai.djl.ttt.lm.Generator;
import ai.djl.ttt.lm.LmState;
import ai.djl.ttt.lm.SamplingConfig;
import ai.djl.ttt.training.IncrementalDecoder;
import ai.djl.ttt.training.Tokenizer;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Text generation as a DJL {@code Translator}: the prompt is encoded and prefilled by the
 * predictor's forward pass (which returns the logits and the recurrent state; through a {@link
 * TttZooModel}'s predictor, the last position's logits only), then {@link Generator#decode}
 * continues token by token. Generic in the input so that the same code serves plain prompts ({@code
 * String → String}) and streaming requests ({@link GenerationRequest} → {@code String}). The whole
 * prediction runs with autograd off on the predictor's thread ({@link ai.djl.ttt.runtime.NoGrad}).
 *
 * @param <I> the input type
 */
public final class TextGenerationTranslator<I>
        implements NoBatchifyTranslator<I, String>, Limited.Translator {

    private final Tokenizer tokenizer;
    private final SamplingConfig sampling;
    private final ServingLimits limits;
    private final Function<I, String> prompt;
    private final Function<I, Consumer<String>> stream;

    private TextGenerationTranslator(
            Tokenizer tokenizer,
            SamplingConfig sampling,
            ServingLimits limits,
            Function<I, String> prompt,
            Function<I, Consumer<String>> stream) {
        limits.checkNewTokens(sampling.getMaxNewTokens());
        this.tokenizer = tokenizer;
        this.sampling = sampling;
        this.limits = limits;
        this.prompt = prompt;
        this.stream = stream;
    }

    /**
     * A translator from a prompt to its continuation.
     *
     * @param tokenizer the model's tokenizer
     * @param sampling how tokens are chosen
     * @return the translator
     */
    public static TextGenerationTranslator<String> plain(
            Tokenizer tokenizer, SamplingConfig sampling) {
        return plain(tokenizer, sampling, ServingLimits.NONE);
    }

    /**
     * A translator from a prompt to its continuation, within limits: a prompt over the ceiling is
     * refused before anything is allocated, and generation stops at the deadline.
     *
     * @param tokenizer the model's tokenizer
     * @param sampling how tokens are chosen
     * @param limits the limits
     * @return the translator
     * @throws RequestLimitException if {@code sampling} asks for more new tokens than the limits
     */
    public static TextGenerationTranslator<String> plain(
            Tokenizer tokenizer, SamplingConfig sampling, ServingLimits limits) {
        return new TextGenerationTranslator<>(tokenizer, sampling, limits, p -> p, p -> null);
    }

    /**
     * A translator that also streams each piece of text to the request's consumer.
     *
     * @param tokenizer the model's tokenizer
     * @param sampling how tokens are chosen
     * @return the translator
     */
    public static TextGenerationTranslator<GenerationRequest> streaming(
            Tokenizer tokenizer, SamplingConfig sampling) {
        return streaming(tokenizer, sampling, ServingLimits.NONE);
    }

    /**
     * A streaming translator within limits (see {@link #plain(Tokenizer, SamplingConfig,
     * ServingLimits)}).
     *
     * @param tokenizer the model's tokenizer
     * @param sampling how tokens are chosen
     * @param limits the limits
     * @return the translator
     * @throws RequestLimitException if {@code sampling} asks for more new tokens than the limits
     */
    public static TextGenerationTranslator<GenerationRequest> streaming(
            Tokenizer tokenizer, SamplingConfig sampling, ServingLimits limits) {
        return new TextGenerationTranslator<>(
                tokenizer, sampling, limits, GenerationRequest::prompt, GenerationRequest::onText);
    }

    /** {@inheritDoc} */
    @Override
    public ServingLimits getLimits() {
        return limits;
    }

    /** {@inheritDoc} */
    @Override
    public NDList processInput(TranslatorContext ctx, I input) {
        Limited.begin(ctx, limits);
        String text = prompt.apply(input);
        if (text == null) {
            throw new IllegalArgumentException("expected a prompt (a text), got null");
        }
        long[] ids = tokenizer.encode(text);
        if (ids.length == 0) {
            throw new IllegalArgumentException("the prompt is empty: generation needs a token");
        }
        limits.checkPrompt(ids.length); // before any array is allocated
        NoGradPrediction.begin(ctx);
        ctx.setAttachment(TttZooModel.LAST_LOGITS, Boolean.TRUE); // the prompt's next token only
        // per input: batchPredict runs several inputs through one context
        ctx.setAttachment("consumer", Optional.ofNullable(stream.apply(input)));
        NDManager m = ctx.getNDManager();
        // ids and a fresh state: the forward pass returns [logits, state...]
        return new NDList(
                m.create(ids).reshape(1, ids.length), m.zeros(new Shape(1), DataType.INT64));
    }

    /** {@inheritDoc} */
    @Override
    @SuppressWarnings("unchecked")
    public String processOutput(TranslatorContext ctx, NDList list) {
        CausalLm lm = (CausalLm) ctx.getModel().getBlock();
        NDArray logits = list.head();
        float[] last = logits.get(0, logits.getShape().get(1) - 1).toFloatArray();
        LmState state = LmState.fromNDList(list.subNDList(1), lm);
        Consumer<String> consumer =
                ((Optional<Consumer<String>>) ctx.getAttachment("consumer")).orElse(null);
        IncrementalDecoder decoder = consumer == null ? null : new IncrementalDecoder(tokenizer);
        List<long[]> generated =
                new Generator(lm, ctx.getNDManager())
                        .decode(
                                state,
                                new float[][] {last},
                                sampling,
                                decoder == null
                                        ? null
                                        : (row, token) -> {
                                            String piece = decoder.add(token);
                                            if (!piece.isEmpty()) {
                                                consumer.accept(piece);
                                            }
                                        },
                                Limited.deadline(ctx));
        return tokenizer.decode(generated.get(0));
    }
}
