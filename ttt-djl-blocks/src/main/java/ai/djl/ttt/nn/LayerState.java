package ai.djl.ttt.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import java.util.List;

/**
 * What a {@link SequenceLayer} carries from one call to the next: a fixed-size recurrent state for
 * TTT layers ({@link TttState}), a growing key/value cache for attention. Immutable: a call returns
 * a new state and leaves the old one valid.
 */
public interface LayerState extends AutoCloseable {

    /**
     * Returns B, the number of sequences.
     *
     * @return the batch size
     */
    int getBatchSize();

    /**
     * Returns the absolute position of the next token of each row.
     *
     * @return a copy of the positions
     */
    long[] getPositions();

    /**
     * Returns the state as arrays for DJL's {@code NDList} protocol; the first is the positions
     * {@code (B)} int64, and a fresh state is only that.
     *
     * @param manager the manager of arrays created for the list
     * @return the arrays
     */
    NDList toNDList(NDManager manager);

    /**
     * Returns the arrays this state holds (not the positions), e.g. to move them to another
     * manager.
     *
     * @return the arrays, empty for a fresh state
     */
    List<NDArray> arrays();

    /** Closes the state's arrays. */
    @Override
    void close();
}
