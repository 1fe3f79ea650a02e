package ai.djl.ttt.lm;

import java.time.Duration;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * How {@link Generator} picks tokens: greedy or sampled (temperature, top-k, top-p), with a seed,
 * stop tokens and a length limit.
 *
 * <pre>{@code
 * SamplingConfig greedy = SamplingConfig.builder().optMaxNewTokens(50).build();
 * SamplingConfig sampled = SamplingConfig.builder()
 *         .optTemperature(0.8).optTopK(40).optTopP(0.95).optSeed(7).optStopTokens(10).build();
 * }</pre>
 */
public final class SamplingConfig {

    private final int maxNewTokens;
    private final double temperature;
    private final int topK;
    private final double topP;
    private final long seed;
    private final Set<Long> stopTokens;
    private final Duration timeout;

    private SamplingConfig(Builder b) {
        maxNewTokens = b.maxNewTokens;
        temperature = b.temperature;
        topK = b.topK;
        topP = b.topP;
        seed = b.seed;
        stopTokens = Collections.unmodifiableSet(new LinkedHashSet<>(b.stopTokens));
        timeout = b.timeout;
    }

    /**
     * Returns a builder with greedy decoding of at most 64 tokens.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Returns the most tokens generated per sequence.
     *
     * @return the limit
     */
    public int getMaxNewTokens() {
        return maxNewTokens;
    }

    /**
     * Returns the softmax temperature; 0 means greedy (argmax).
     *
     * @return the temperature
     */
    public double getTemperature() {
        return temperature;
    }

    /**
     * Returns how many of the most likely tokens are kept before sampling; 0 keeps all.
     *
     * @return k
     */
    public int getTopK() {
        return topK;
    }

    /**
     * Returns the nucleus: the smallest set of most likely tokens whose probability reaches p is
     * kept; 1 keeps all.
     *
     * @return p
     */
    public double getTopP() {
        return topP;
    }

    /**
     * Returns the seed of the sampler (every sequence of a batch uses its own generator with this
     * seed, so a sequence samples the same tokens alone or in a batch).
     *
     * @return the seed
     */
    public long getSeed() {
        return seed;
    }

    /**
     * Returns the tokens that end a sequence (they are emitted, then the sequence stops).
     *
     * @return the stop tokens
     */
    public Set<Long> getStopTokens() {
        return stopTokens;
    }

    /**
     * Returns how long a generation may take, or {@code null} for no limit: {@link Generator} stops
     * with a {@link ai.djl.ttt.runtime.DeadlineExceededException} at the first step after it (see
     * {@link Builder#optTimeout}).
     *
     * @return the timeout, or {@code null}
     */
    public Duration getTimeout() {
        return timeout;
    }

    /**
     * Returns a builder with these settings, to change some of them.
     *
     * @return a new builder
     */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.maxNewTokens = maxNewTokens;
        b.temperature = temperature;
        b.topK = topK;
        b.topP = topP;
        b.seed = seed;
        b.stopTokens = new LinkedHashSet<>(stopTokens);
        b.timeout = timeout;
        return b;
    }

    /** The builder of {@link SamplingConfig}. */
    public static final class Builder {
        private int maxNewTokens = 64;
        private double temperature;
        private int topK;
        private double topP = 1.0;
        private long seed = 42;
        private Set<Long> stopTokens = new LinkedHashSet<>();
        private Duration timeout;

        Builder() {}

        /**
         * Sets how long a generation may take (none by default): the clock starts when {@link
         * Generator#generate} is called (or {@link Generator#decode}, without a deadline of its
         * own), and the generator stops between two decode steps once it has passed.
         *
         * @param t a positive duration, or {@code null} for no limit
         * @return this builder
         */
        public Builder optTimeout(Duration t) {
            timeout = t;
            return this;
        }

        /**
         * Sets the most tokens generated per sequence (64 by default).
         *
         * @param n the limit, at least 1
         * @return this builder
         */
        public Builder optMaxNewTokens(int n) {
            maxNewTokens = n;
            return this;
        }

        /**
         * Sets the temperature (0, greedy, by default).
         *
         * @param t the temperature, at least 0
         * @return this builder
         */
        public Builder optTemperature(double t) {
            temperature = t;
            return this;
        }

        /**
         * Keeps only the k most likely tokens (0, all, by default).
         *
         * @param k at least 0
         * @return this builder
         */
        public Builder optTopK(int k) {
            topK = k;
            return this;
        }

        /**
         * Keeps the smallest set of most likely tokens whose probability reaches p (1, all, by
         * default).
         *
         * @param p in (0, 1]
         * @return this builder
         */
        public Builder optTopP(double p) {
            topP = p;
            return this;
        }

        /**
         * Sets the seed (42 by default).
         *
         * @param s the seed
         * @return this builder
         */
        public Builder optSeed(long s) {
            seed = s;
            return this;
        }

        /**
         * Sets the stop tokens (none by default).
         *
         * @param tokens token ids
         * @return this builder
         */
        public Builder optStopTokens(long... tokens) {
            stopTokens = new LinkedHashSet<>();
            Arrays.stream(tokens).forEach(stopTokens::add);
            return this;
        }

        /**
         * Validates and builds.
         *
         * @return the config
         * @throws IllegalArgumentException naming the invalid value
         */
        public SamplingConfig build() {
            if (maxNewTokens < 1) {
                throw new IllegalArgumentException(
                        "maxNewTokens must be >= 1, got " + maxNewTokens);
            }
            if (!(temperature >= 0) || Double.isInfinite(temperature)) {
                throw new IllegalArgumentException(
                        "temperature must be finite and >= 0, got " + temperature);
            }
            if (topK < 0) {
                throw new IllegalArgumentException("topK must be >= 0, got " + topK);
            }
            if (!(topP > 0 && topP <= 1)) {
                throw new IllegalArgumentException("topP must be in (0, 1], got " + topP);
            }
            if (timeout != null && (timeout.isNegative() || timeout.isZero())) {
                throw new IllegalArgumentException("timeout must be > 0, got " + timeout);
            }
            return new SamplingConfig(this);
        }
    }
}
