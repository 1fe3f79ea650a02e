package ai.djl.ttt.zoo;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDList;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.TranslateException;
import ai.djl.translate.Translator;
import ai.djl.translate.TranslatorContext;
import ai.djl.ttt.lm.CausalLm;
import ai.djl.ttt.runtime.NoGrad;
import ai.djl.util.PairList;
import java.util.List;

/**
 * The {@link ZooModel} of a TTT model directory: its predictors run every prediction with autograd
 * off and hand the model the forward-pass options a translator asks for.
 *
 * <p>Autograd: libtorch records gradients by default on every thread but the one that loaded the
 * engine (see {@link NoGrad}); a prediction on a serving pool's thread would record the graph
 * through every parameter. These predictors turn it off for the whole of {@code predict} and {@code
 * batchPredict}, whatever the translator — DJL's own {@code NDList → NDList} one included — and
 * restore the thread's mode after, also after a failure.
 *
 * <p>Why: DJL's {@code Predictor} calls {@code block.forward(ps, input, false)} with no options, so
 * a text-generation prefill through it would compute the logits of every prompt position, though
 * only the last one chooses the next token — the head's product is about a sixth of a 125m model's
 * prefill. A translator that needs only the last position sets {@link #LAST_LOGITS} on its context;
 * the predictors of this model pass {@link CausalLm#LOGITS}{@code = last} to the forward pass. Any
 * other predictor ignores the attachment and the translator reads the last of all positions, with
 * the same result up to float rounding (the head's product runs with another matrix kernel).
 *
 * @param <I> the input type
 * @param <O> the output type
 */
public class TttZooModel<I, O> extends ZooModel<I, O> {

    /**
     * The context attachment (any non-null value) by which a translator asks for the logits of the
     * last position only.
     */
    public static final String LAST_LOGITS = "ai.djl.ttt.lastLogits";

    private final String name;

    /**
     * Wraps a loaded model.
     *
     * @param model the model, its block a {@link CausalLm}
     * @param translator the default translator
     */
    public TttZooModel(Model model, Translator<I, O> translator) {
        this(model, translator, model.getName());
    }

    /**
     * Wraps a loaded model under a name of its own: the zoo's models are named after their folder
     * (the artifact id), whatever name their weights file has.
     *
     * @param model the model, its block a {@link CausalLm}
     * @param translator the default translator
     * @param name the name {@link #getName()} returns
     */
    public TttZooModel(Model model, Translator<I, O> translator, String name) {
        super(model, translator);
        this.name = name;
    }

    /**
     * Returns the model's name: its folder's (the artifact id) for a model of the ttt zoo.
     *
     * @return the name
     */
    @Override
    public String getName() {
        return name;
    }

    /** {@inheritDoc} */
    @Override
    public Predictor<I, O> newPredictor(Device device) {
        return newPredictor(getTranslator(), device);
    }

    /** {@inheritDoc} */
    @Override
    public <P, Q> Predictor<P, Q> newPredictor(Translator<P, Q> translator, Device device) {
        return new OptionsPredictor<>(getWrappedModel(), translator, device);
    }

    /** A predictor that passes the translator's forward-pass options to the model. */
    private static final class OptionsPredictor<P, Q> extends Predictor<P, Q> {

        OptionsPredictor(Model model, Translator<P, Q> translator, Device device) {
            super(model, translator, device, false);
        }

        /**
         * {@inheritDoc}
         *
         * <p>With autograd off on the calling thread ({@code predict} comes here too).
         */
        @Override
        public List<Q> batchPredict(List<P> inputs) throws TranslateException {
            if (translator instanceof Limited.Translator limited) {
                try {
                    limited.getLimits().checkBatch(inputs.size()); // before anything is allocated
                } catch (RequestLimitException e) {
                    throw new TranslateException(e.getMessage(), e);
                }
            }
            try (NoGrad off = NoGrad.open(manager)) {
                return super.batchPredict(inputs);
            }
        }

        /** {@inheritDoc} */
        @Override
        protected NDList predictInternal(TranslatorContext ctx, NDList input)
                throws TranslateException {
            if (ctx.getAttachment(LAST_LOGITS) == null || input.isEmpty()) {
                return super.predictInternal(ctx, input);
            }
            PairList<String, Object> options = new PairList<>();
            options.add(CausalLm.LOGITS, CausalLm.LAST);
            return block.forward(parameterStore, input, false, options);
        }
    }
}
