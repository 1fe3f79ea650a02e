package ai.djl.ttt.zoo;

import ai.djl.modality.Input;
import ai.djl.modality.Output;
import ai.djl.ndarray.NDList;
import ai.djl.translate.NoBatchifyTranslator;
import ai.djl.translate.TranslatorContext;
import ai.djl.ttt.training.Tokenizer;
import com.google.gson.Gson;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * DJL Serving's protocol: {@link Input} → {@link Output}. The request body is JSON {@code
 * {"inputs": "a prompt", "parameters": {...}}} (or plain text: the prompt, with the defaults).
 *
 * <p>Parameters: {@code max_new_tokens}, {@code temperature}, {@code top_k}, {@code top_p}, {@code
 * seed}, {@code stop_tokens} (snake case as in DJL Serving's text-generation handlers; the camel
 * case of the {@code Criteria} arguments works too), and {@code task}: {@code "generate"} (the
 * default) answers {@code {"generated_text": "..."}}, {@code "score"} answers the text's per-token
 * log-likelihoods ({@link TextScore}) as {@code {"tokens": n, "log_likelihood": ..., "perplexity":
 * ..., "bits_per_byte": ..., "token_log_likelihoods": [...]}}. Defaults come from the translator
 * factory's arguments, i.e. the {@code Criteria} arguments and the model directory's {@code
 * serving.properties}.
 */
public final class ServingTranslator implements NoBatchifyTranslator<Input, Output> {

    private static final String INNER = "ttt.serving.translator";
    private static final Gson GSON = new Gson();
    private static final Map<String, String> NAMES =
            Map.of(
                    "max_new_tokens", "maxNewTokens",
                    "top_k", "topK",
                    "top_p", "topP",
                    "stop_tokens", "stopTokens");

    private final Tokenizer tokenizer;
    private final Map<String, ?> defaults;

    /**
     * Creates the translator.
     *
     * @param tokenizer the model's tokenizer
     * @param defaults default generation settings, as the {@code Criteria} arguments name them
     */
    public ServingTranslator(Tokenizer tokenizer, Map<String, ?> defaults) {
        this.tokenizer = tokenizer;
        this.defaults = Map.copyOf(withoutNulls(defaults));
    }

    /** {@inheritDoc} */
    @Override
    public NDList processInput(TranslatorContext ctx, Input input) throws Exception {
        Request request = parse(input);
        if ("score".equals(request.task)) {
            ScoringTranslator scoring = new ScoringTranslator(tokenizer);
            ctx.setAttachment(INNER, scoring);
            return scoring.processInput(ctx, request.text);
        }
        Map<String, Object> arguments = new HashMap<>(defaults);
        arguments.putAll(request.parameters);
        TextGenerationTranslator<String> generation =
                TextGenerationTranslator.plain(tokenizer, TttTranslatorFactory.sampling(arguments));
        ctx.setAttachment(INNER, generation);
        return generation.processInput(ctx, request.text);
    }

    /** {@inheritDoc} */
    @Override
    public Output processOutput(TranslatorContext ctx, NDList list) throws Exception {
        Object inner = ctx.getAttachment(INNER);
        JsonObject json = new JsonObject();
        if (inner instanceof ScoringTranslator scoring) {
            TextScore score = scoring.processOutput(ctx, list);
            json.addProperty("tokens", score.tokens().length);
            json.addProperty("log_likelihood", score.totalLogLikelihood());
            json.addProperty("perplexity", score.perplexity());
            json.addProperty("bits_per_byte", score.bitsPerByte());
            json.add("token_log_likelihoods", GSON.toJsonTree(score.logLikelihoods()));
        } else {
            @SuppressWarnings("unchecked")
            TextGenerationTranslator<String> generation = (TextGenerationTranslator<String>) inner;
            json.addProperty("generated_text", generation.processOutput(ctx, list));
        }
        Output output = new Output();
        output.addProperty("Content-Type", "application/json");
        output.add(GSON.toJson(json));
        return output;
    }

    /** A request: the text, the task and its parameters in the Criteria arguments' names. */
    private record Request(String text, String task, Map<String, Object> parameters) {}

    private static Request parse(Input input) {
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
            return new Request(body, "generate", Map.of());
        }
        JsonObject object;
        try {
            JsonElement parsed = JsonParser.parseString(body);
            if (!parsed.isJsonObject()) {
                throw new IllegalArgumentException(
                        "expected a JSON object {\"inputs\": ..., \"parameters\": {...}}, got "
                                + abbreviate(body));
            }
            object = parsed.getAsJsonObject();
        } catch (JsonParseException e) {
            throw new IllegalArgumentException(
                    "the request body is not valid JSON: " + abbreviate(body), e);
        }
        JsonElement inputs = object.get("inputs");
        if (inputs == null
                || !inputs.isJsonPrimitive()
                || !inputs.getAsJsonPrimitive().isString()) {
            throw new IllegalArgumentException(
                    "\"inputs\": expected one text (a JSON string), got " + inputs);
        }
        Map<String, Object> parameters = new HashMap<>();
        String task = "generate";
        JsonElement given = object.get("parameters");
        if (given != null && !given.isJsonNull()) {
            if (!given.isJsonObject()) {
                throw new IllegalArgumentException(
                        "\"parameters\": expected a JSON object, got " + given);
            }
            for (Map.Entry<String, JsonElement> e : given.getAsJsonObject().entrySet()) {
                String value =
                        e.getValue().isJsonPrimitive()
                                ? e.getValue().getAsString()
                                : e.getValue().isJsonArray()
                                        ? String.join(
                                                ",",
                                                e.getValue().getAsJsonArray().asList().stream()
                                                        .map(JsonElement::getAsString)
                                                        .toList())
                                        : e.getValue().toString();
                if ("task".equals(e.getKey())) {
                    task = value;
                } else {
                    parameters.put(NAMES.getOrDefault(e.getKey(), e.getKey()), value);
                }
            }
        }
        if (!"generate".equals(task) && !"score".equals(task)) {
            throw new IllegalArgumentException(
                    "\"task\": expected \"generate\" or \"score\", got \"" + task + "\"");
        }
        return new Request(inputs.getAsString(), task, parameters);
    }

    private static String abbreviate(String s) {
        return s.length() > 80 ? s.substring(0, 80) + "…" : s;
    }

    private static Map<String, ?> withoutNulls(Map<String, ?> map) {
        Map<String, Object> copy = new HashMap<>();
        for (Map.Entry<String, ?> e : map.entrySet()) {
            if (e.getKey() != null && e.getValue() != null) {
                copy.put(e.getKey(), e.getValue());
            }
        }
        return copy;
    }
}
