package ai.djl.ttt.baselines;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ttt.nn.LayerState;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The state of the attention baseline: the keys and values of every token read so far, {@code (B,
 * H, L, f)}. Unlike a TTT state it grows with the sequence.
 *
 * <p>Rows may hold different numbers of tokens (sequences prefilled separately and then batched): a
 * row at position {@code p} uses the <em>last</em> {@code p} of the {@code L} slots, the others are
 * left padding that attention masks out.
 */
public final class KvCache implements LayerState {

    private final long[] positions;
    private final NDArray keys;
    private final NDArray values;

    KvCache(long[] positions, NDArray keys, NDArray values) {
        this.positions = positions.clone();
        this.keys = keys;
        this.values = values;
    }

    /**
     * Returns the cached keys (after RoPE).
     *
     * @return {@code (B, H, L, f)}, or {@code null} for a fresh cache
     */
    public NDArray getKeys() {
        return keys;
    }

    /**
     * Returns the cached values.
     *
     * @return {@code (B, H, L, f)}, or {@code null} for a fresh cache
     */
    public NDArray getValues() {
        return values;
    }

    /**
     * Returns L, the number of slots (the longest row).
     *
     * @return the number of cached tokens per row, padding included
     */
    public long getLength() {
        return keys == null ? 0 : keys.getShape().get(2);
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
        if (keys != null) {
            list.add(keys);
            list.add(values);
        }
        return list;
    }

    /**
     * Rebuilds a cache from its {@link #toNDList} form.
     *
     * @param list {@code [positions]} or {@code [positions, keys, values]}
     * @return the cache
     */
    static KvCache fromNDList(NDList list) {
        if (list.isEmpty() || list.get(0).getDataType() != DataType.INT64) {
            throw new IllegalArgumentException(
                    "a key/value cache starts with the positions, an int64 array (B)");
        }
        long[] positions = list.get(0).toLongArray();
        if (list.size() == 1) {
            return new KvCache(positions, null, null);
        }
        if (list.size() != 3) {
            throw new IllegalArgumentException(
                    "expected a key/value cache of 3 arrays (positions, keys, values), got "
                            + list.size());
        }
        return new KvCache(positions, list.get(1), list.get(2));
    }

    /**
     * Stacks caches of separately processed sequences, left-padding the shorter ones.
     *
     * @param caches the caches
     * @return the batch cache
     */
    static KvCache concat(List<KvCache> caches) {
        long length = caches.stream().mapToLong(KvCache::getLength).max().orElse(0);
        List<Long> positions = new ArrayList<>();
        NDList keys = new NDList();
        NDList values = new NDList();
        for (KvCache c : caches) {
            for (long p : c.positions) {
                positions.add(p);
            }
            if (c.keys == null) {
                throw new IllegalArgumentException(
                        "a fresh cache has no arrays to concatenate: prefill each sequence first");
            }
            keys.add(leftPad(c.keys, length));
            values.add(leftPad(c.values, length));
        }
        return new KvCache(
                positions.stream().mapToLong(Long::longValue).toArray(),
                NDArrays.concat(keys, 0),
                NDArrays.concat(values, 0));
    }

    private static NDArray leftPad(NDArray x, long length) {
        Shape s = x.getShape();
        if (s.get(2) == length) {
            return x;
        }
        NDArray pad =
                x.getManager()
                        .zeros(
                                new Shape(s.get(0), s.get(1), length - s.get(2), s.get(3)),
                                x.getDataType());
        return NDArrays.concat(new NDList(pad, x), 2);
    }

    /** {@inheritDoc} */
    @Override
    public List<NDArray> arrays() {
        return keys == null ? List.of() : List.of(keys, values);
    }

    /** {@inheritDoc} */
    @Override
    public void close() {
        if (keys != null) {
            keys.close();
            values.close();
        }
    }

    /** {@inheritDoc} */
    @Override
    public String toString() {
        return "KvCache(positions=" + Arrays.toString(positions) + ", length=" + getLength() + ")";
    }
}
