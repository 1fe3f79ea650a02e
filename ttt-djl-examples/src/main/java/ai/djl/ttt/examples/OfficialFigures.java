package ai.djl.ttt.examples;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The official {@code ttt.py}'s timings that the speed benchmark's tables set beside ours.
 *
 * <p>By default they are figures measured once on another machine (a 2-core machine, torch CPU
 * eager, B = 1, 125m layer shape; listed in docs/benchmarks.md, "The default official figures").
 * Those were not measured on the machine that runs the benchmark, so a ratio against them mixes two
 * machines; {@link #read} takes figures measured on the same machine instead, from a JSON file:
 *
 * <pre>{@code
 * {
 *   "source": "ttt.py at 8e8d1f6, torch 2.13.0+cpu, 2 threads, this machine",
 *   "forward": {"linear": {"512": 112.3, "2048": 460.4}, "mlp": {"512": 180.2}},
 *   "forwardBackward": {"linear": 1263.9, "mlp": 2890.0},
 *   "decode": {"linear": 65.4, "mlp": 80.1}
 * }
 * }</pre>
 *
 * <p>Milliseconds: layer forward without autograd per sequence length, layer forward + backward at
 * T = 2048, and one decode step of the whole 125m model with its cache. Every key is optional
 * except {@code source}; a missing figure leaves its cell empty.
 */
final class OfficialFigures {

    private static final Set<String> KEYS =
            Set.of("source", "forward", "forwardBackward", "decode");
    private static final Set<String> LAYERS = Set.of("linear", "mlp");

    private final String source;
    private final Map<String, Map<Integer, Double>> forward;
    private final Map<String, Double> forwardBackward;
    private final Map<String, Double> decode;

    private OfficialFigures(
            String source,
            Map<String, Map<Integer, Double>> forward,
            Map<String, Double> forwardBackward,
            Map<String, Double> decode) {
        this.source = source;
        this.forward = forward;
        this.forwardBackward = forwardBackward;
        this.decode = decode;
    }

    /**
     * Returns the default figures, measured on another machine (docs/benchmarks.md, "The default
     * official figures").
     *
     * @return the default figures
     */
    static OfficialFigures measuredElsewhere() {
        int[] lengths = {512, 1024, 2048, 4096};
        double[] linear = {44, 88, 176, 363};
        double[] mlp = {104, 200, 406, 831};
        Map<String, Map<Integer, Double>> forward = new LinkedHashMap<>();
        forward.put("linear", new LinkedHashMap<>());
        forward.put("mlp", new LinkedHashMap<>());
        for (int i = 0; i < lengths.length; i++) {
            forward.get("linear").put(lengths[i], linear[i]);
            forward.get("mlp").put(lengths[i], mlp[i]);
        }
        return new OfficialFigures(
                "the default figures of docs/benchmarks.md (ttt.py on another 2-core machine,"
                        + " torch CPU eager), not measured on this machine",
                forward,
                Map.of("linear", 1217.0, "mlp", 2507.0),
                Map.of("linear", 90.0, "mlp", 104.0));
    }

    /**
     * Returns no figures (every cell empty).
     *
     * @return empty figures
     */
    static OfficialFigures none() {
        return new OfficialFigures("none", Map.of(), Map.of(), Map.of());
    }

    /**
     * Reads figures from a JSON file in the format of the class comment.
     *
     * @param file the JSON file
     * @return the figures
     * @throws IOException if the file cannot be read
     * @throws IllegalArgumentException if the file is not such JSON: an unknown key, a missing
     *     {@code source}, or a figure that is not a positive number (the message names it)
     */
    static OfficialFigures read(Path file) throws IOException {
        JsonObject root;
        try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            JsonElement parsed = JsonParser.parseReader(reader);
            if (!parsed.isJsonObject()) {
                throw new IllegalArgumentException(
                        file + ": expected a JSON object of official figures, got " + parsed);
            }
            root = parsed.getAsJsonObject();
        } catch (JsonParseException e) {
            throw new IllegalArgumentException(file + ": not valid JSON: " + e.getMessage(), e);
        }
        String where = file.toString();
        checkKeys(root, KEYS, where);
        if (!root.has("source") || !root.get("source").isJsonPrimitive()) {
            throw new IllegalArgumentException(
                    where + ": expected \"source\": a text saying where the figures come from");
        }
        Map<String, Map<Integer, Double>> forward = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> layer : object(root, "forward", where).entrySet()) {
            String at = where + " forward." + layer.getKey();
            Map<Integer, Double> byLength = new LinkedHashMap<>();
            for (Map.Entry<String, JsonElement> e : object(layer.getValue(), at).entrySet()) {
                byLength.put(length(e.getKey(), at), milliseconds(e.getValue(), at));
            }
            forward.put(layer.getKey(), byLength);
        }
        return new OfficialFigures(
                root.get("source").getAsString(),
                forward,
                perLayer(root, "forwardBackward", where),
                perLayer(root, "decode", where));
    }

    /**
     * Returns where the figures come from, for the report.
     *
     * @return a sentence
     */
    String source() {
        return source;
    }

    /**
     * Returns the layer forward time.
     *
     * @param layer {@code "linear"} or {@code "mlp"}
     * @param length the sequence length
     * @return milliseconds, or NaN if not known
     */
    double forward(String layer, int length) {
        Map<Integer, Double> byLength = forward.get(layer);
        Double ms = byLength == null ? null : byLength.get(length);
        return ms == null ? Double.NaN : ms;
    }

    /**
     * Returns the layer forward + backward time at T = 2048.
     *
     * @param layer {@code "linear"} or {@code "mlp"}
     * @return milliseconds, or NaN if not known
     */
    double forwardBackward(String layer) {
        return forwardBackward.getOrDefault(layer, Double.NaN);
    }

    /**
     * Returns the whole-model decode step time.
     *
     * @param layer {@code "linear"} or {@code "mlp"}
     * @return milliseconds, or NaN if not known
     */
    double decode(String layer) {
        return decode.getOrDefault(layer, Double.NaN);
    }

    private static Map<String, Double> perLayer(JsonObject root, String key, String where) {
        Map<String, Double> figures = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> e : object(root, key, where).entrySet()) {
            figures.put(
                    e.getKey(), milliseconds(e.getValue(), where + " " + key + "." + e.getKey()));
        }
        return figures;
    }

    /** The object under {@code key} (empty if absent), its keys checked to be layer names. */
    private static JsonObject object(JsonObject root, String key, String where) {
        if (!root.has(key)) {
            return new JsonObject();
        }
        JsonObject o = object(root.get(key), where + " " + key);
        checkKeys(o, LAYERS, where + " " + key);
        return o;
    }

    private static JsonObject object(JsonElement e, String where) {
        if (!e.isJsonObject()) {
            throw new IllegalArgumentException(where + ": expected a JSON object, got " + e);
        }
        return e.getAsJsonObject();
    }

    private static void checkKeys(JsonObject o, Set<String> allowed, String where) {
        for (String key : o.keySet()) {
            if (!allowed.contains(key)) {
                throw new IllegalArgumentException(
                        where
                                + ": unknown key \""
                                + key
                                + "\", expected one of "
                                + allowed.stream().sorted().toList());
            }
        }
    }

    /**
     * Parses a sequence length.
     *
     * @param key the text
     * @param where what it belongs to, for the message
     * @return the length, positive
     * @throws IllegalArgumentException naming {@code where}, what was expected and what came
     */
    static int length(String key, String where) {
        try {
            int length = Integer.parseInt(key);
            if (length > 0) {
                return length;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(
                where + ": expected a sequence length (a positive integer), got \"" + key + "\"");
    }

    private static double milliseconds(JsonElement e, String where) {
        if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber()) {
            double ms = e.getAsDouble();
            if (ms > 0 && Double.isFinite(ms)) {
                return ms;
            }
        }
        throw new IllegalArgumentException(
                where + ": expected milliseconds (a positive number), got " + e);
    }
}
