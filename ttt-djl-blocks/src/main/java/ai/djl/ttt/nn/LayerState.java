package ai.djl.ttt.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
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
    default int getBatchSize() {
        return getPositions().length;
    }

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

    /**
     * Checks that a chunk has as many rows as a state holds sequences.
     *
     * @param held the state's batch size
     * @param input the chunk's shape, batch first
     * @throws IllegalArgumentException naming both batch sizes
     */
    static void checkBatchSize(int held, Shape input) {
        if (held != input.get(0)) {
            throw new IllegalArgumentException(
                    "the state holds "
                            + held
                            + " sequences but the input has batch size "
                            + input.get(0)
                            + " (shape "
                            + input
                            + ")");
        }
    }
}
