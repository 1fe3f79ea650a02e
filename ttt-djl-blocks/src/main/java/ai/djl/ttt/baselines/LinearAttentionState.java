package ai.djl.ttt.baselines;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ttt.nn.LayerState;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The state of {@link LinearAttention}: per head the sum {@code S = Σ_s k_sᵀ v_s} over every token
 * read so far, {@code (B, H, f, f)}. Like a TTT state (and unlike a key/value cache) it has a fixed
 * size: it is the weight matrix of TTT-Linear trained by batch gradient descent from {@code W₀ =
 * 0}.
 */
public final class LinearAttentionState implements LayerState {

    private final long[] positions;
    private final NDArray sum;

    LinearAttentionState(long[] positions, NDArray sum) {
        this.positions = positions.clone();
        this.sum = sum;
    }

    /**
     * Returns the running sum of key-value outer products.
     *
     * @return {@code (B, H, f, f)}, or {@code null} for a fresh state
     */
    public NDArray getSum() {
        return sum;
    }

    /** {@inheritDoc} */
    @Override
    public long[] getPositions() {
        return positions.clone();
    }

    /** {@inheritDoc} */
    @Override
    public NDList toNDList(NDManager manager) {
        NDList list = new NDList(manager.create(positions));
        if (sum != null) {
            list.add(sum);
        }
        return list;
    }

    /**
     * Rebuilds a state from its {@link #toNDList} form.
     *
     * @param list {@code [positions]} or {@code [positions, sum]}
     * @return the state
     * @throws IllegalArgumentException if the list has another layout
     */
    static LinearAttentionState fromNDList(NDList list) {
        if (list.isEmpty() || list.get(0).getDataType() != DataType.INT64) {
            throw new IllegalArgumentException(
                    "a linear-attention state starts with the positions, an int64 array (B)");
        }
        if (list.size() > 2) {
            throw new IllegalArgumentException(
                    "expected a linear-attention state of 1 or 2 arrays (positions, sum), got "
                            + list.size());
        }
        long[] positions = list.get(0).toLongArray();
        return new LinearAttentionState(positions, list.size() == 1 ? null : list.get(1));
    }

    /**
     * Stacks states of separately processed sequences into one batch.
     *
     * @param states the states, each already past its prefill
     * @return the batch state
     * @throws IllegalArgumentException if a state is fresh
     */
    static LinearAttentionState concat(List<LinearAttentionState> states) {
        List<Long> positions = new ArrayList<>();
        NDList sums = new NDList();
        for (LinearAttentionState s : states) {
            if (s.sum == null) {
                throw new IllegalArgumentException(
                        "a fresh state has no arrays to concatenate: prefill each sequence first");
            }
            Arrays.stream(s.positions).forEach(positions::add);
            sums.add(s.sum);
        }
        return new LinearAttentionState(
                positions.stream().mapToLong(Long::longValue).toArray(), NDArrays.concat(sums, 0));
    }

    /** {@inheritDoc} */
    @Override
    public List<NDArray> arrays() {
        return sum == null ? List.of() : List.of(sum);
    }

    /** {@inheritDoc} */
    @Override
    public void close() {
        if (sum != null) {
            sum.close();
        }
    }

    /** {@inheritDoc} */
    @Override
    public String toString() {
        return "LinearAttentionState(positions=" + Arrays.toString(positions) + ")";
    }
}
