package ai.djl.ttt.zoo;

import ai.djl.modality.Input;
import ai.djl.ttt.lm.SamplingConfig;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import java.io.IOException;
import java.io.StringReader;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A request of DJL Serving's protocol, parsed strictly: JSON {@code {"inputs": "text",
 * "parameters": {...}}} or plain text (the prompt). Every key must be one this translator knows, in
 * its place, with a value of its type; anything else is refused with a message that names the key
 * and what is allowed, since a typo ({@code max_new_token}) or a misplaced key ({@code task} at the
 * top level) silently ignored would answer another question than the one asked.
 *
 * @param text the prompt or the text to score
 * @param score whether the task is {@code "score"}
 * @param sampling the generation settings: the defaults with the request's values
 * @param timeoutMs the request's {@code timeout_ms}, or {@code null}
 */
record ServingRequest(String text, boolean score, SamplingConfig sampling, Long timeoutMs) {

    /** The keys of the top level. */
    static final List<String> TOP_LEVEL = List.of("inputs", "parameters");

    /** The parameters of {@code "task": "generate"}, snake case (camel case works too). */
    static final List<String> GENERATE =
            List.of(
                    "task",
                    "max_new_tokens",
                    "temperature",
                    "top_k",
                    "top_p",
                    "seed",
                    "stop_tokens",
                    "timeout_ms");

    /** The parameters of {@code "task": "score"}. */
    static final List<String> SCORE = List.of("task", "timeout_ms");

    private static final Map<String, String> CAMEL =
            Map.of(
                    "maxNewTokens", "max_new_tokens",
                    "topK", "top_k",
                    "topP", "top_p",
                    "stopTokens", "stop_tokens",
                    "timeoutMs", "timeout_ms");

    private static final Pattern POSITION = Pattern.compile("line (\\d+) column (\\d+)");

    private static final Set<String> TASKS = Set.of("generate", "score");

    /**
     * Parses a request.
     *
     * @param input the request
     * @param defaults the generation settings a request starts from
     * @return the request
     * @throws IllegalArgumentException naming what is wrong and what was expected
     */
    static ServingRequest parse(Input input, SamplingConfig defaults) {
        if (input.getContent().isEmpty()) {
            throw new IllegalArgumentException(
                    "expected a request body {\"inputs\": \"...\", \"parameters\": {...}}, got none");
        }
        String body = input.getData().getAsString();
        String type = input.getProperty("Content-Type", "");
        boolean json =
                type.toLowerCase(Locale.ROOT).contains("json")
                        || body.stripLeading().startsWith("{");
        if (!json) {
            return new ServingRequest(body, false, defaults, null);
        }
        JsonObject object = parseObject(body);
        for (String key : object.keySet()) {
            if (!TOP_LEVEL.contains(key)) {
                String known = CAMEL.getOrDefault(key, key);
                throw new IllegalArgumentException(
                        GENERATE.contains(known)
                                ? "\""
                                        + key
                                        + "\" belongs in \"parameters\": {\"inputs\": \"...\","
                                        + " \"parameters\": {\""
                                        + key
                                        + "\": ...}}"
                                : "unknown key "
                                        + Arguments.echo(key)
                                        + " at the top level; allowed: "
                                        + String.join(", ", TOP_LEVEL));
            }
        }
        JsonElement inputs = object.get("inputs");
        if (inputs == null
                || !inputs.isJsonPrimitive()
                || !inputs.getAsJsonPrimitive().isString()) {
            throw new IllegalArgumentException(
                    "\"inputs\": expected one text (a JSON string), got "
                            + (inputs == null ? "none" : Arguments.clip(inputs.toString())));
        }
        JsonObject parameters = new JsonObject();
        JsonElement given = object.get("parameters");
        if (given != null && !given.isJsonNull()) {
            if (!given.isJsonObject()) {
                throw new IllegalArgumentException(
                        "\"parameters\": expected a JSON object, got "
                                + Arguments.clip(given.toString()));
            }
            parameters = given.getAsJsonObject();
        }
        boolean score = "score".equals(task(parameters.get("task")));
        List<String> allowed = score ? SCORE : GENERATE;
        SamplingConfig.Builder sampling = defaults.toBuilder();
        Long timeoutMs = null;
        for (Map.Entry<String, JsonElement> e : parameters.entrySet()) {
            String key = CAMEL.getOrDefault(e.getKey(), e.getKey());
            if (!allowed.contains(key)) {
                throw new IllegalArgumentException(
                        (GENERATE.contains(key)
                                        ? "\"" + key + "\" does not apply to task \"score\""
                                        : "unknown parameter " + Arguments.echo(e.getKey()))
                                + "; allowed"
                                + (score ? " with task \"score\"" : "")
                                + ": "
                                + String.join(", ", allowed));
            }
            JsonElement v = e.getValue();
            switch (key) {
                case "max_new_tokens" ->
                        sampling.optMaxNewTokens((int) integer(key, v, 1, Integer.MAX_VALUE));
                case "temperature" -> sampling.optTemperature(number(key, v, "a number >= 0"));
                case "top_k" -> sampling.optTopK((int) integer(key, v, 0, Integer.MAX_VALUE));
                case "top_p" -> sampling.optTopP(number(key, v, "a number in (0, 1]"));
                case "seed" -> sampling.optSeed(integer(key, v, Long.MIN_VALUE, Long.MAX_VALUE));
                case "stop_tokens" -> sampling.optStopTokens(stopTokens(v));
                case "timeout_ms" -> timeoutMs = integer(key, v, 1, Long.MAX_VALUE);
                default -> {
                    // task: read above
                }
            }
        }
        return new ServingRequest(inputs.getAsString(), score, sampling.build(), timeoutMs);
    }

    private static JsonObject parseObject(String body) {
        JsonElement parsed;
        try {
            JsonReader reader = new JsonReader(new StringReader(body));
            reader.setStrictness(Strictness.STRICT); // no NaN, comments, single quotes, bare words
            parsed = JsonParser.parseReader(reader);
            if (reader.peek() != JsonToken.END_DOCUMENT) {
                throw new JsonParseException("text after the JSON value");
            }
        } catch (JsonParseException | IOException | IllegalStateException e) {
            throw new IllegalArgumentException(
                    "the request body is not valid JSON ("
                            + firstLine(e.getMessage())
                            + "): "
                            + Arguments.echo(body));
        }
        if (!parsed.isJsonObject()) {
            throw new IllegalArgumentException(
                    "expected a JSON object {\"inputs\": ..., \"parameters\": {...}}, got "
                            + Arguments.echo(body));
        }
        return parsed.getAsJsonObject();
    }

    private static String task(JsonElement task) {
        if (task == null) {
            return "generate";
        }
        if (task.isJsonPrimitive()
                && task.getAsJsonPrimitive().isString()
                && TASKS.contains(task.getAsString())) {
            return task.getAsString();
        }
        throw new IllegalArgumentException(
                "\"task\": expected \"generate\" or \"score\", got "
                        + Arguments.clip(task.toString()));
    }

    private static long integer(String key, JsonElement v, long min, long max) {
        String expected =
                "an integer"
                        + (min == Long.MIN_VALUE ? "" : " >= " + min)
                        + (max == Long.MAX_VALUE || max == Integer.MAX_VALUE ? "" : " <= " + max);
        if (v.isJsonPrimitive() && v.getAsJsonPrimitive().isNumber()) {
            BigDecimal d = v.getAsBigDecimal();
            try {
                long value = d.longValueExact();
                if (value >= min && value <= max) {
                    return value;
                }
            } catch (ArithmeticException e) {
                // not an integer, or out of range: reported below
            }
        }
        throw bad(key, expected, v);
    }

    private static double number(String key, JsonElement v, String expected) {
        if (v.isJsonPrimitive() && v.getAsJsonPrimitive().isNumber()) {
            double d = v.getAsDouble();
            if (Double.isFinite(d)) {
                return d;
            }
        }
        throw bad(key, expected, v);
    }

    private static long[] stopTokens(JsonElement v) {
        String expected = "an array of token ids (integers >= 0)";
        if (!v.isJsonArray()) {
            throw bad("stop_tokens", expected, v);
        }
        JsonArray array = v.getAsJsonArray();
        List<Long> ids = new ArrayList<>();
        for (JsonElement id : array) {
            if (id == null || id.isJsonNull()) {
                throw bad("stop_tokens", expected, v);
            }
            ids.add(integer("stop_tokens", id, 0, Long.MAX_VALUE));
        }
        return ids.stream().mapToLong(Long::longValue).toArray();
    }

    private static IllegalArgumentException bad(String key, String expected, JsonElement got) {
        return new IllegalArgumentException(
                "\""
                        + key
                        + "\": expected "
                        + expected
                        + ", got "
                        + Arguments.clip(got.toString()));
    }

    /** Where the parser stopped ("line 1 column 12"), without Gson's advice and links. */
    private static String firstLine(String message) {
        Matcher m = POSITION.matcher(message == null ? "" : message);
        return m.find() ? "at line " + m.group(1) + " column " + m.group(2) : "incomplete";
    }
}
