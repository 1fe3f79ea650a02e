package ai.djl.ttt.lm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import ai.djl.ttt.runtime.Deadline;
import ai.djl.ttt.runtime.NoGrad;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Generates text with a {@link CausalLm}: each prompt is prefilled alone (the dual form for TTT
 * layers), the states are stacked into one batch, and tokens are decoded one step at a time (the
 * primal form), each row at its own position.
 *
 * <p>For TTT layers the state has a fixed size, so memory per generated token is constant; the
 * attention baseline's key/value cache grows by one slot per token. A batch of prompts of different
 * lengths gives exactly what each prompt gives alone: no row ever reads another row's padding (the
 * official code ignores the attention mask).
 *
 * <p>Cancelling: between two steps (prompts of the prefill, decoded tokens) the generator stops if
 * the thread was interrupted ({@code Future.cancel(true)}: a {@link
 * java.util.concurrent.CancellationException}) or the config's timeout passed (a {@link
 * ai.djl.ttt.runtime.DeadlineExceededException}); either way its arrays are freed.
 *
 * <p>Generation runs with autograd off on the calling thread, whatever thread that is ({@link
 * NoGrad}), and restores the thread's grad mode when it returns.
 *
 * <pre>{@code
 * Generator generator = new Generator(model, manager);
 * List<long[]> out = generator.generate(List.of(promptIds), config, (row, token) -> print(token));
 * }</pre>
 */
public final class Generator {

    private final CausalLm model;
    private final NDManager manager;
    private final ParameterStore parameterStore;

    /**
     * Creates a generator.
     *
     * @param model an initialised model
     * @param manager the manager under which each call's arrays live (and are freed)
     */
    public Generator(CausalLm model, NDManager manager) {
        this.model = model;
        this.manager = manager;
        this.parameterStore = new ParameterStore(manager, false);
    }

    /** Receives tokens as they are generated. */
    @FunctionalInterface
    public interface TokenListener {
        /**
         * Called once per generated token, in order.
         *
         * @param sequence the index of the prompt
         * @param token the token id
         */
        void onToken(int sequence, long token);
    }

    /**
     * Generates a continuation of every prompt.
     *
     * @param prompts token ids, at least one token each
     * @param config the sampling settings
     * @param listener called with each token as soon as it is chosen, or {@code null}
     * @return the generated ids of each prompt (without the prompt), stop token included
     */
    public List<long[]> generate(
            List<long[]> prompts, SamplingConfig config, TokenListener listener) {
        if (prompts.isEmpty()) {
            throw new IllegalArgumentException("no prompt to continue");
        }
        for (int i = 0; i < prompts.size(); i++) {
            if (prompts.get(i).length == 0) {
                throw new IllegalArgumentException(
                        "prompt " + i + " is empty: generation needs at least one token");
            }
        }
        Deadline deadline = Deadline.after(config.getTimeout());
        try (NDManager generation = manager.newSubManager();
                NoGrad off = NoGrad.open(manager)) {
            float[][] logits = new float[prompts.size()][];
            LmState state = prefillEach(generation, prompts, logits, deadline);
            return decode(state, logits, config, listener, deadline);
        }
    }

    /**
     * Continues sequences from a state: samples a token per row from its logits, feeds it, and so
     * on until every row has hit a stop token or the length limit. The state is closed at the end.
     *
     * @param state the state after each row's prompt (rows may be at different positions)
     * @param logits each row's logits for the next token, length V (overwritten as the rows
     *     advance)
     * @param config the sampling settings
     * @param listener called with each token as soon as it is chosen, or {@code null}
     * @return the generated ids of each row, stop token included
     */
    public List<long[]> decode(
            LmState state, float[][] logits, SamplingConfig config, TokenListener listener) {
        return decode(state, logits, config, listener, Deadline.after(config.getTimeout()));
    }

    /**
     * Continues sequences from a state, as {@link #decode(LmState, float[][], SamplingConfig,
     * TokenListener)}, until a deadline that started earlier (e.g. when a request arrived, before
     * its prompt was prefilled).
     *
     * @param state the state after each row's prompt (closed at the end)
     * @param logits each row's logits for the next token, length V
     * @param config the sampling settings (its timeout is ignored: {@code deadline} replaces it)
     * @param listener called with each token as soon as it is chosen, or {@code null}
     * @param deadline when to stop; checked, with the thread's interruption, before each step
     * @return the generated ids of each row, stop token included
     */
    public List<long[]> decode(
            LmState state,
            float[][] logits,
            SamplingConfig config,
            TokenListener listener,
            Deadline deadline) {
        int rows = state.getBatchSize();
        int vocab = model.getConfig().getVocabSize();
        NDManager owner = manager.newSubManager();
        state.attach(owner);
        try (NoGrad off = NoGrad.open(manager)) {
            Sampler[] samplers = new Sampler[rows];
            List<List<Long>> generated = new ArrayList<>();
            for (int r = 0; r < rows; r++) {
                samplers[r] = new Sampler(config);
                generated.add(new ArrayList<>());
            }
            boolean[] done = new boolean[rows];
            long[] next = new long[rows];
            while (true) {
                boolean allDone = true;
                for (int r = 0; r < rows; r++) {
                    if (done[r]) {
                        continue; // keeps feeding its last token; the outputs are ignored
                    }
                    next[r] = samplers[r].next(logits[r]);
                    generated.get(r).add(next[r]);
                    if (listener != null) {
                        listener.onToken(r, next[r]);
                    }
                    done[r] =
                            config.getStopTokens().contains(next[r])
                                    || generated.get(r).size() >= config.getMaxNewTokens();
                    allDone &= done[r];
                }
                if (allDone) {
                    break;
                }
                deadline.check(
                        generated.get(0).size()
                                + " of at most "
                                + config.getMaxNewTokens()
                                + " new tokens");
                try (NDManager step = owner.newSubManager()) {
                    NDArray ids = step.create(next).reshape(rows, 1);
                    CausalLm.Output out = model.prefill(parameterStore, ids, state, false);
                    float[] flat = out.logits().toFloatArray();
                    for (int r = 0; r < rows; r++) {
                        logits[r] = Arrays.copyOfRange(flat, r * vocab, (r + 1) * vocab);
                    }
                    out.state().attach(owner);
                    state.close();
                    state = out.state();
                }
            }
            List<long[]> result = new ArrayList<>();
            for (List<Long> g : generated) {
                result.add(g.stream().mapToLong(Long::longValue).toArray());
            }
            return result;
        } finally {
            state.close();
            owner.close();
        }
    }

    /** Prefills every prompt alone and stacks the states; fills the last logits of each row. */
    private LmState prefillEach(
            NDManager generation, List<long[]> prompts, float[][] logits, Deadline deadline) {
        List<LmState> states = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            deadline.check("prefilling " + i + " of " + prompts.size() + " prompts");
            long[] prompt = prompts.get(i);
            try (NDManager step = generation.newSubManager()) {
                NDArray ids = step.create(prompt).reshape(1, prompt.length);
                CausalLm.Output out = model.prefillLast(parameterStore, ids, null);
                logits[i] = out.logits().get(0, 0).toFloatArray();
                out.state().attach(generation);
                states.add(out.state());
            }
        }
        if (states.size() == 1) {
            return states.get(0);
        }
        LmState batch = LmState.concat(states, model);
        states.forEach(LmState::close);
        return batch;
    }
}
