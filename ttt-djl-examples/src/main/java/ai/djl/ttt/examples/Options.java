package ai.djl.ttt.examples;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Checks of option values, shared by the commands: each failure is an {@link
 * IllegalArgumentException} whose message names the option, the allowed values and what came, which
 * {@link TttCli} prints as {@code error: ...} with exit status 2.
 */
final class Options {

    private Options() {}

    /** Requires {@code value ≥ min}. */
    static void requireAtLeast(String option, long value, long min) {
        if (value < min) {
            throw new IllegalArgumentException(
                    option + " must be an integer >= " + min + ", got " + value);
        }
    }

    /** Requires every value of a list option to be {@code ≥ min}. */
    static void requireEachAtLeast(String option, int[] values, long min) {
        for (int value : values) {
            requireAtLeast(option, value, min);
        }
    }

    /** Requires {@code min ≤ value ≤ max}. */
    static void requireBetween(String option, long value, long min, long max) {
        if (value < min || value > max) {
            throw new IllegalArgumentException(
                    option + " must be an integer from " + min + " to " + max + ", got " + value);
        }
    }

    /**
     * Requires a thread count from 1 to the cores this JVM sees: more PyTorch threads than cores
     * only slow it down (8 tokens took 17 s instead of 1.2 s with 1024 threads on 2 cores), and
     * hundreds of threads can exhaust a capped address space.
     */
    static void requireThreads(String option, int threads) {
        requireAtLeast(option, threads, 1);
        int cores = Runtime.getRuntime().availableProcessors();
        if (threads > cores) {
            throw new IllegalArgumentException(
                    option
                            + " "
                            + threads
                            + " is more than the "
                            + cores
                            + " cores this JVM sees; more threads than cores only slow PyTorch"
                            + " down: use at most "
                            + cores);
        }
    }

    /** Requires a finite {@code value > 0}. */
    static void requirePositive(String option, double value) {
        if (!(value > 0) || Double.isInfinite(value)) {
            throw new IllegalArgumentException(
                    option + " must be a number > 0, got " + format(value));
        }
    }

    /** Requires a finite {@code value ≥ 0}. */
    static void requireNonNegative(String option, double value) {
        if (!(value >= 0) || Double.isInfinite(value)) {
            throw new IllegalArgumentException(
                    option + " must be a number >= 0, got " + format(value));
        }
    }

    /** Requires a finite {@code min ≤ value ≤ max}. */
    static void requireBetween(String option, double value, double min, double max) {
        if (!(value >= min && value <= max)) {
            throw new IllegalArgumentException(
                    option
                            + " must be a number from "
                            + format(min)
                            + " to "
                            + format(max)
                            + ", got "
                            + format(value));
        }
    }

    /**
     * Requires one of the allowed values (ignoring case) and returns it in lower case.
     *
     * @return the value in lower case
     */
    static String requireOneOf(String option, String value, List<String> allowed) {
        String lower = value.toLowerCase(Locale.ROOT);
        if (!allowed.contains(lower)) {
            throw new IllegalArgumentException(
                    option
                            + " must be one of "
                            + String.join(", ", allowed)
                            + ", got '"
                            + value
                            + "'");
        }
        return lower;
    }

    /**
     * Requires a file to write a report to, or {@code -} for none: not blank and not a folder (a
     * missing folder above it is created when the report is written).
     */
    static void requireOutputFile(String option, String value) {
        if (value.isBlank() || (!"-".equals(value) && Files.isDirectory(Path.of(value)))) {
            throw new IllegalArgumentException(
                    option
                            + " must be a file to write the report to, or '-' for none; got '"
                            + value
                            + "'"
                            + (value.isBlank() ? "" : ", a folder"));
        }
    }

    private static String format(double value) {
        return value == Math.rint(value) && Math.abs(value) < 1e15
                ? Long.toString((long) value)
                : Double.toString(value);
    }
}
