package ai.djl.ttt.training;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.training.dataset.Record;
import ai.djl.util.Progress;
import java.util.Arrays;

/**
 * Next-token prediction windows over one token stream: record {@code i} is {@code x = tokens[i·T,
 * (i+1)·T)} and {@code y = tokens[i·T + 1, (i+1)·T + 1)}, both {@code (T)} int64; DJL's default
 * batchifier stacks them into {@code (B, T)}. Windows do not overlap.
 */
public final class TokenWindowDataset extends RandomAccessDataset {

    private final long[] tokens;
    private final int length;

    private TokenWindowDataset(Builder builder) {
        super(builder);
        tokens = builder.tokens;
        length = builder.length;
    }

    /**
     * Creates a builder.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /** {@inheritDoc} */
    @Override
    public Record get(NDManager manager, long index) {
        int start = Math.toIntExact(index * length);
        return new Record(
                new NDList(manager.create(Arrays.copyOfRange(tokens, start, start + length))),
                new NDList(
                        manager.create(Arrays.copyOfRange(tokens, start + 1, start + length + 1))));
    }

    /** {@inheritDoc} */
    @Override
    protected long availableSize() {
        return (tokens.length - 1) / length;
    }

    /** {@inheritDoc} */
    @Override
    public void prepare(Progress progress) {}

    /**
     * Returns T, the window length.
     *
     * @return the number of tokens per window
     */
    public int getWindowLength() {
        return length;
    }

    /** The builder of {@link TokenWindowDataset}. */
    public static final class Builder extends BaseBuilder<Builder> {
        private long[] tokens;
        private int length;

        Builder() {}

        /**
         * Sets the token stream (required).
         *
         * @param tokens the ids
         * @return this builder
         */
        public Builder setTokens(long[] tokens) {
            this.tokens = tokens;
            return this;
        }

        /**
         * Sets T, the window length (required).
         *
         * @param length at least 1
         * @return this builder
         */
        public Builder setWindowLength(int length) {
            this.length = length;
            return this;
        }

        /** {@inheritDoc} */
        @Override
        protected Builder self() {
            return this;
        }

        /**
         * Builds the dataset.
         *
         * @return the dataset
         * @throws IllegalArgumentException if the stream is too short for one window
         */
        public TokenWindowDataset build() {
            if (length < 1) {
                throw new IllegalArgumentException("window length must be >= 1, got " + length);
            }
            if (tokens == null || tokens.length < length + 1) {
                throw new IllegalArgumentException(
                        "a window of "
                                + length
                                + " tokens needs at least "
                                + (length + 1)
                                + " tokens, got "
                                + (tokens == null ? 0 : tokens.length));
            }
            return new TokenWindowDataset(this);
        }
    }
}
