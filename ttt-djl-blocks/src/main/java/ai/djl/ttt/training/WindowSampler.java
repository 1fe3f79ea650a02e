package ai.djl.ttt.training;

import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.training.dataset.Sampler;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Random;

/**
 * A DJL {@link Sampler} that draws mini-batches of windows in an order fixed by a seed: epoch
 * {@code e} is a permutation drawn from {@code seed + e}, batches of {@code B} windows, the last
 * incomplete batch dropped. It can start in the middle of an epoch, so a resumed run sees exactly
 * the batches the interrupted run would have seen.
 */
public final class WindowSampler implements Sampler {

    private final int batchSize;
    private final long seed;
    private long batchesDrawn;

    /**
     * Creates a sampler.
     *
     * @param batchSize B
     * @param seed the seed of the permutations
     * @param startBatch how many batches were already drawn (for resuming), 0 for a new run
     */
    public WindowSampler(int batchSize, long seed, long startBatch) {
        this.batchSize = batchSize;
        this.seed = seed;
        this.batchesDrawn = startBatch;
    }

    /**
     * Returns an endless iterator of index batches (an epoch follows another).
     *
     * @param dataset the dataset
     * @return the batches
     */
    @Override
    public Iterator<List<Long>> sample(RandomAccessDataset dataset) {
        long size = dataset.size();
        long perEpoch = size / batchSize;
        if (perEpoch == 0) {
            throw new IllegalArgumentException(
                    "a batch of "
                            + batchSize
                            + " windows needs a dataset of at least that many, got "
                            + size);
        }
        return new Iterator<>() {
            private long epoch = -1;
            private List<Long> order;

            @Override
            public boolean hasNext() {
                return true;
            }

            @Override
            public List<Long> next() {
                long e = batchesDrawn / perEpoch;
                int k = (int) (batchesDrawn % perEpoch);
                if (e != epoch) {
                    order = new ArrayList<>();
                    for (long i = 0; i < size; i++) {
                        order.add(i);
                    }
                    Collections.shuffle(order, new Random(seed + e));
                    epoch = e;
                }
                if (order == null) {
                    throw new NoSuchElementException();
                }
                batchesDrawn++;
                return new ArrayList<>(order.subList(k * batchSize, (k + 1) * batchSize));
            }
        };
    }

    /** {@inheritDoc} */
    @Override
    public int getBatchSize() {
        return batchSize;
    }
}
