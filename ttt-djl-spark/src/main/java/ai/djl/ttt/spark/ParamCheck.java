package ai.djl.ttt.spark;

import java.io.Serializable;
import java.util.Arrays;
import scala.runtime.AbstractFunction1;

/**
 * The {@code isValid} function of a Spark ML {@code Param}: it throws an {@link
 * IllegalArgumentException} that names the param, what it expects and what came, instead of
 * returning false. Spark calls it on every way a value arrives (a setter, a {@code ParamMap}, a
 * loaded pipeline), and its own message for {@code false} ("parameter batchSize given invalid value
 * 0.") says nothing of what would be valid.
 *
 * @param <T> the param's value type (boxed)
 */
final class ParamCheck<T> extends AbstractFunction1<T, Object> implements Serializable {

    private static final long serialVersionUID = 1L;

    /** A serializable test of a value: the stage, and with it this check, is serializable. */
    @FunctionalInterface
    interface Test<T> extends Serializable {
        /** Whether the value is valid. */
        boolean ok(T value);
    }

    private final String name;
    private final String expected;
    private final Test<T> test;

    private ParamCheck(String name, String expected, Test<T> test) {
        this.name = name;
        this.expected = expected;
        this.test = test;
    }

    /**
     * A check whose message reads "{@code name} must be {@code expected}, got {@code value}".
     *
     * @param name the param's name
     * @param expected what a valid value is, e.g. {@code ">= 1"}
     * @param test the test
     * @param <T> the value type
     * @return the check
     */
    static <T> ParamCheck<T> of(String name, String expected, Test<T> test) {
        return new ParamCheck<>(name, expected, test);
    }

    /**
     * A check that runs code which throws its own {@link IllegalArgumentException} (e.g. the zoo's
     * checks of a generation setting).
     *
     * @param check the code
     * @param <T> the value type
     * @return the check
     */
    static <T> ParamCheck<T> throwing(Test<T> check) {
        return new ParamCheck<>(null, null, check);
    }

    /** A check of a column name: not null or blank. */
    static ParamCheck<String> column(String name) {
        return of(name, "a column name", c -> c != null && !c.isBlank());
    }

    /** A check of an int param: at least {@code min}. */
    static ParamCheck<Object> atLeast(String name, int min) {
        return of(name, ">= " + min, v -> ((Number) v).intValue() >= min);
    }

    /** {@inheritDoc} */
    @Override
    public Object apply(T value) {
        if (!test.ok(value)) {
            throw new IllegalArgumentException(
                    name + " must be " + expected + ", got " + shown(value));
        }
        return Boolean.TRUE;
    }

    private static String shown(Object value) {
        if (value == null) {
            return "null";
        }
        String s =
                value instanceof String
                        ? "'" + value + "'"
                        : value instanceof int[] a ? Arrays.toString(a) : value.toString();
        return s.length() > 200 ? s.substring(0, 200) + "…" : s;
    }
}
