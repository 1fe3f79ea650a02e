package ai.djl.ttt.zoo;

import java.time.Duration;
import java.util.Locale;
import java.util.Map;

/**
 * The operator's ceilings on one prediction, read from the {@code Criteria} arguments (and so from
 * the model directory's {@code serving.properties}): a request that asks for more is refused before
 * anything is allocated ({@link RequestLimitException}, which DJL Serving answers with 400 Bad
 * Request), and a request may lower, never raise, them.
 *
 * <ul>
 *   <li>{@value #MAX_PROMPT_TOKENS} (default {@value #DEFAULT_MAX_PROMPT_TOKENS}): the most tokens
 *       a prompt (or a scored text) may have; prefill memory grows with the prompt;
 *   <li>{@value #MAX_NEW_TOKENS_LIMIT} (default {@value #DEFAULT_MAX_NEW_TOKENS_LIMIT}): the most
 *       tokens a request may ask to generate ({@code maxNewTokens} is the default it gets);
 *   <li>{@value #MAX_BATCH_SIZE} (default {@value #DEFAULT_MAX_BATCH_SIZE}): the most inputs of one
 *       {@code batchPredict};
 *   <li>{@value #TIMEOUT_MS} (default {@value #DEFAULT_TIMEOUT_MS}): the deadline of a prediction
 *       in milliseconds, counted from its start; generation stops between two tokens once it has
 *       passed.
 * </ul>
 *
 * @param maxPromptTokens the most tokens of a prompt or scored text
 * @param maxNewTokens the most new tokens a request may ask for
 * @param maxBatchSize the most inputs of one batch
 * @param timeout the longest a prediction may run
 */
public record ServingLimits(
        int maxPromptTokens, int maxNewTokens, int maxBatchSize, Duration timeout) {

    /** The argument of the prompt-length ceiling. */
    public static final String MAX_PROMPT_TOKENS = "maxPromptTokens";

    /** The argument of the ceiling of {@code maxNewTokens}. */
    public static final String MAX_NEW_TOKENS_LIMIT = "maxNewTokensLimit";

    /** The argument of the batch-size ceiling. */
    public static final String MAX_BATCH_SIZE = "maxBatchSize";

    /** The argument of the per-prediction deadline, in milliseconds. */
    public static final String TIMEOUT_MS = "timeoutMs";

    /** Default prompt ceiling: a few hundred MB of prefill for the README's models. */
    public static final int DEFAULT_MAX_PROMPT_TOKENS = 4096;

    /** Default new-token ceiling. */
    public static final int DEFAULT_MAX_NEW_TOKENS_LIMIT = 1024;

    /** Default batch ceiling. */
    public static final int DEFAULT_MAX_BATCH_SIZE = 32;

    /** Default deadline: one minute. */
    public static final long DEFAULT_TIMEOUT_MS = 60_000;

    /** The defaults. */
    public static final ServingLimits DEFAULTS =
            new ServingLimits(
                    DEFAULT_MAX_PROMPT_TOKENS,
                    DEFAULT_MAX_NEW_TOKENS_LIMIT,
                    DEFAULT_MAX_BATCH_SIZE,
                    Duration.ofMillis(DEFAULT_TIMEOUT_MS));

    /** No limits: what a translator made directly in code, not by the factory, applies. */
    public static final ServingLimits NONE =
            new ServingLimits(
                    Integer.MAX_VALUE,
                    Integer.MAX_VALUE,
                    Integer.MAX_VALUE,
                    Duration.ofMillis(Long.MAX_VALUE));

    /**
     * Checks the values.
     *
     * @param maxPromptTokens the most tokens of a prompt or scored text, at least 1
     * @param maxNewTokens the most new tokens a request may ask for, at least 1
     * @param maxBatchSize the most inputs of one batch, at least 1
     * @param timeout the longest a prediction may run, positive
     * @throws IllegalArgumentException naming the invalid one
     */
    public ServingLimits {
        requirePositive(MAX_PROMPT_TOKENS, maxPromptTokens);
        requirePositive(MAX_NEW_TOKENS_LIMIT, maxNewTokens);
        requirePositive(MAX_BATCH_SIZE, maxBatchSize);
        if (timeout == null || timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException(TIMEOUT_MS + " must be > 0, got " + timeout);
        }
    }

    /**
     * Reads the limits from {@code Criteria} arguments; absent keys get the defaults.
     *
     * @param arguments the arguments (values are numbers or their text)
     * @return the limits
     * @throws IllegalArgumentException naming a key whose value is not a positive integer
     */
    public static ServingLimits fromArguments(Map<String, ?> arguments) {
        return new ServingLimits(
                (int)
                        Arguments.positiveLong(
                                arguments, MAX_PROMPT_TOKENS, DEFAULT_MAX_PROMPT_TOKENS),
                (int)
                        Arguments.positiveLong(
                                arguments, MAX_NEW_TOKENS_LIMIT, DEFAULT_MAX_NEW_TOKENS_LIMIT),
                (int) Arguments.positiveLong(arguments, MAX_BATCH_SIZE, DEFAULT_MAX_BATCH_SIZE),
                Duration.ofMillis(
                        Arguments.positiveLong(arguments, TIMEOUT_MS, DEFAULT_TIMEOUT_MS)));
    }

    /**
     * Returns these limits with another deadline (a request's own, lower one).
     *
     * @param t the timeout
     * @return the limits
     */
    public ServingLimits withTimeout(Duration t) {
        return new ServingLimits(maxPromptTokens, maxNewTokens, maxBatchSize, t);
    }

    /**
     * Refuses a prompt longer than {@link #maxPromptTokens}.
     *
     * @param tokens the prompt's length in tokens
     * @throws RequestLimitException if it is longer
     */
    public void checkPrompt(int tokens) {
        if (tokens > maxPromptTokens) {
            throw new RequestLimitException(
                    MAX_PROMPT_TOKENS,
                    String.format(
                            Locale.ROOT,
                            "the input has %d tokens, more than the limit of %d (%s); send a"
                                    + " shorter text",
                            tokens,
                            maxPromptTokens,
                            MAX_PROMPT_TOKENS));
        }
    }

    /**
     * Refuses a request for more new tokens than {@link #maxNewTokens}.
     *
     * @param requested the tokens asked for
     * @throws RequestLimitException if they are more
     */
    public void checkNewTokens(int requested) {
        refuseOver(MAX_NEW_TOKENS_LIMIT, "max_new_tokens %d", requested, maxNewTokens);
    }

    /**
     * Refuses a batch of more than {@link #maxBatchSize} inputs.
     *
     * @param inputs the batch's size
     * @throws RequestLimitException if it is larger
     */
    public void checkBatch(int inputs) {
        refuseOver(MAX_BATCH_SIZE, "a batch of %d inputs", inputs, maxBatchSize);
    }

    /**
     * Refuses a value over its ceiling: "{@code what} is over the limit of {@code limit} ({@code
     * name})", where {@code what} is a format of the value, e.g. {@code "max_new_tokens %d"}.
     */
    private static void refuseOver(String name, String what, long value, long limit) {
        if (value > limit) {
            throw new RequestLimitException(
                    name,
                    String.format(Locale.ROOT, what, value)
                            + " is over the limit of "
                            + limit
                            + " ("
                            + name
                            + ")");
        }
    }

    /**
     * Returns the deadline a request asked for, within the ceiling.
     *
     * @param requestedMs the request's {@code timeout_ms}, or {@code null} for the ceiling
     * @return the timeout
     * @throws RequestLimitException if the request asks for more than the ceiling
     */
    public Duration timeout(Long requestedMs) {
        if (requestedMs == null) {
            return timeout;
        }
        refuseOver(TIMEOUT_MS, "timeout_ms %d", requestedMs, timeout.toMillis());
        return Duration.ofMillis(requestedMs);
    }

    private static void requirePositive(String key, int value) {
        if (value < 1) {
            throw new IllegalArgumentException(key + " must be >= 1, got " + value);
        }
    }
}
