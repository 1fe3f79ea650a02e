package ai.djl.ttt.zoo;

import java.util.Arrays;
import java.util.Map;

/**
 * Reads typed values from {@code Criteria} arguments ({@code serving.properties} gives text, code
 * gives numbers) with messages that name the key and what was expected, where DJL's {@code
 * ArgumentsUtil} gives a bare {@code NumberFormatException}.
 */
final class Arguments {

    private static final int MAX_ECHO = 40;

    private Arguments() {}

    static long positiveLong(Map<String, ?> arguments, String key, long fallback) {
        long value = longValue(arguments, key, fallback, "an integer >= 1");
        if (value < 1) {
            throw bad(key, "an integer >= 1", value);
        }
        return value;
    }

    static int intAtLeast(Map<String, ?> arguments, String key, int fallback, int min) {
        String expected = "an integer >= " + min;
        long value = longValue(arguments, key, fallback, expected);
        if (value < min || value > Integer.MAX_VALUE) {
            throw bad(key, expected, value);
        }
        return (int) value;
    }

    static long longValue(Map<String, ?> arguments, String key, long fallback, String expected) {
        Object value = arguments.get(key);
        if (value == null) {
            return fallback;
        }
        if (value instanceof Integer || value instanceof Long || value instanceof Short) {
            return ((Number) value).longValue();
        }
        String text = value.toString().trim();
        try {
            return Long.parseLong(text);
        } catch (NumberFormatException e) {
            // 7.0 is an integer; 7.5, NaN, "hot" are not
            try {
                double d = Double.parseDouble(text);
                if (d == Math.rint(d) && Math.abs(d) < 9e15) {
                    return (long) d;
                }
            } catch (NumberFormatException ignored) {
                // reported below
            }
            throw bad(key, expected, value);
        }
    }

    static double doubleValue(
            Map<String, ?> arguments, String key, double fallback, String expected) {
        Object value = arguments.get(key);
        if (value == null) {
            return fallback;
        }
        double d;
        if (value instanceof Number n) {
            d = n.doubleValue();
        } else {
            try {
                d = Double.parseDouble(value.toString().trim());
            } catch (NumberFormatException e) {
                throw bad(key, expected, value);
            }
        }
        if (!Double.isFinite(d)) {
            throw bad(key, expected, value);
        }
        return d;
    }

    /** Stop tokens: a long[], or text of comma-separated ids. */
    static long[] stopTokens(Map<String, ?> arguments, String key) {
        Object value = arguments.get(key);
        if (value == null) {
            return new long[0];
        }
        if (value instanceof long[] ids) {
            return ids.clone();
        }
        String text = value.toString();
        if (text.isBlank()) {
            return new long[0];
        }
        try {
            return Arrays.stream(text.split(","))
                    .mapToLong(s -> Long.parseLong(s.trim()))
                    .toArray();
        } catch (NumberFormatException e) {
            throw bad(key, "comma-separated token ids (integers)", value);
        }
    }

    static IllegalArgumentException bad(String key, String expected, Object got) {
        return new IllegalArgumentException(
                key + ": expected " + expected + ", got " + echo(String.valueOf(got)));
    }

    /** A value in a message: quoted, at most a few dozen characters (with the full length). */
    static String echo(String text) {
        return "\"" + clip(text) + "\"";
    }

    /** At most a few dozen characters of a text, with its full length if it was cut. */
    static String clip(String text) {
        return text.length() > MAX_ECHO
                ? text.substring(0, MAX_ECHO) + "… (" + text.length() + " characters)"
                : text;
    }
}
