package ai.djl.ttt.runtime;

import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.CancellationException;

/**
 * When a piece of work must stop, checked between its steps: a long loop (token-by-token decoding)
 * calls {@link #check} once per step, so that a request's timeout or a {@code Future.cancel(true)}
 * (which interrupts the thread) stops it within one step, and the loop's {@code finally} blocks
 * free its arrays.
 *
 * @param endNanos the {@link System#nanoTime()} after which the work stops; {@link Long#MAX_VALUE}
 *     for none
 * @param timeout the duration it was made from (for the message), or {@code null}
 */
public record Deadline(long endNanos, Duration timeout) {

    /** No deadline: only an interruption stops the work. */
    public static final Deadline NONE = new Deadline(Long.MAX_VALUE, null);

    /**
     * A deadline {@code timeout} from now.
     *
     * @param timeout how long the work may take, or {@code null} for {@link #NONE}
     * @return the deadline
     */
    public static Deadline after(Duration timeout) {
        if (timeout == null || timeout.compareTo(Duration.ofDays(100 * 365)) > 0) {
            return NONE; // longer than any process lives (and than toNanos can hold)
        }
        long now = System.nanoTime();
        long nanos = timeout.toNanos();
        // saturate: now + a huge timeout must not wrap around to the past
        long end = nanos > Long.MAX_VALUE - now ? Long.MAX_VALUE : now + nanos;
        return new Deadline(end, timeout);
    }

    /**
     * Stops the work if it must: if the thread was interrupted (its interrupt flag is kept set) or
     * the deadline passed.
     *
     * @param progress what was done so far, for the message (e.g. "12 of 64 new tokens")
     * @throws CancellationException if the thread was interrupted
     * @throws DeadlineExceededException if the deadline passed
     */
    public void check(String progress) {
        if (Thread.currentThread().isInterrupted()) {
            throw new CancellationException("cancelled (thread interrupted) after " + progress);
        }
        if (endNanos != Long.MAX_VALUE && System.nanoTime() - endNanos > 0) {
            throw new DeadlineExceededException(
                    String.format(
                            Locale.ROOT,
                            "stopped after %s: the deadline of %d ms passed",
                            progress,
                            timeout == null ? 0 : timeout.toMillis()));
        }
    }
}
