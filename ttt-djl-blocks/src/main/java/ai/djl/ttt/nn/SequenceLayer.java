package ai.djl.ttt.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import java.util.List;

/**
 * A causal sequence layer {@code (B, T, C) → (B, T, C)} that can process a sequence in chunks,
 * carrying a {@link LayerState}: the TTT layers and the attention baseline. Running a sequence in
 * chunks gives the same outputs as one call over the whole sequence.
 *
 * @param <S> the type of state
 */
public interface SequenceLayer<S extends LayerState> extends Block {

    /**
     * Runs a chunk, continuing a state.
     *
     * @param parameterStore the parameter store
     * @param x the chunk {@code (B, T, C)}
     * @param state the state before the chunk, or {@code null} to start a sequence
     * @param training whether autograd records
     * @return the output {@code (B, T, C)} and the state after the chunk
     */
    Output<S> prefill(ParameterStore parameterStore, NDArray x, S state, boolean training);

    /**
     * Rebuilds a state of this layer from its {@link LayerState#toNDList} form.
     *
     * @param list the arrays
     * @return the state
     * @throws IllegalArgumentException if the arrays do not have this layer's layout
     */
    S stateFromNDList(NDList list);

    /**
     * Returns the number of arrays of a non-fresh state in its {@code NDList} form, positions
     * included.
     *
     * @return the count
     */
    int stateArrayCount();

    /**
     * Returns the floating-point operations of a forward over {@code T} tokens for one sequence,
     * counting only matrix products (a multiply-add counts 2; the element-wise work is a few
     * percent): what benchmarks divide by the time to get a rate. The formulas are written out in
     * {@code docs/benchmarks.md}.
     *
     * @param tokens T
     * @return FLOPs
     */
    double forwardFlops(long tokens);

    /**
     * Stacks the states of separately processed sequences into one batch; rows keep their
     * positions.
     *
     * @param states states of this layer
     * @return the batch state
     */
    S concatStates(List<S> states);

    /**
     * The output of a chunk and the state after it.
     *
     * @param output the layer output {@code (B, T, C)}
     * @param state the state after the chunk ({@code null} when the call did not ask for it)
     * @param <S> the type of state
     */
    record Output<S extends LayerState>(NDArray output, S state) {}
}
