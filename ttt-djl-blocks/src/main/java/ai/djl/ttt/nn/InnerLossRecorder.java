package ai.djl.ttt.nn;

import ai.djl.ttt.nn.inner.InnerLossStats;
import ai.djl.util.PairList;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Collects the inner-loss statistics ({@link InnerLossStats}) of the TTT layers that one forward
 * pass runs through: a caller that wants them passes a recorder as the forward-pass option {@link
 * #PARAM} ({@code params} of {@code forward(ps, inputs, training, params)}), and each TTT layer the
 * pass reaches measures its inner loss and adds it here, in the order the layers run. The
 * statistics are what the forward returns besides its output: nothing is switched on or left behind
 * on the blocks, so passes on other threads are unaffected.
 *
 * <pre>{@code
 * InnerLossRecorder recorder = new InnerLossRecorder();
 * layer.forward(ps, new NDList(x), false, recorder.asParams());
 * InnerLossStats stats = recorder.stats().get(0);
 * }</pre>
 *
 * <p>Measuring costs three extra passes of the inner model per mini-batch; chunked long-sequence
 * inference and the stateful {@code prefill}/{@code step} calls do not measure.
 */
public final class InnerLossRecorder {

    /** The forward-pass option whose value is the recorder. */
    public static final String PARAM = "ttt.innerLoss";

    private final List<InnerLossStats> stats = Collections.synchronizedList(new ArrayList<>());

    /**
     * Returns the forward-pass options that carry this recorder.
     *
     * @return {@code [PARAM → this]}
     */
    public PairList<String, Object> asParams() {
        PairList<String, Object> params = new PairList<>();
        params.add(PARAM, this);
        return params;
    }

    /**
     * Returns the recorder a pass's options carry.
     *
     * @param params the forward-pass options, or {@code null}
     * @return the recorder, or {@code null} when the pass does not measure
     * @throws IllegalArgumentException if the option holds something else
     */
    public static InnerLossRecorder from(PairList<String, Object> params) {
        Object value = params == null ? null : params.get(PARAM);
        if (value == null || value instanceof InnerLossRecorder) {
            return (InnerLossRecorder) value;
        }
        throw new IllegalArgumentException(
                "option '"
                        + PARAM
                        + "' must be an InnerLossRecorder, got "
                        + value.getClass().getName());
    }

    /**
     * Adds one layer's statistics (called by the layers).
     *
     * @param layerStats the statistics of one layer's forward
     */
    public void add(InnerLossStats layerStats) {
        stats.add(layerStats);
    }

    /**
     * Returns the statistics recorded so far, one per TTT layer forward, in the order they ran.
     *
     * @return a copy of the list
     */
    public List<InnerLossStats> stats() {
        synchronized (stats) {
            return List.copyOf(stats);
        }
    }
}
