package ai.djl.ttt.runtime;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import com.google.gson.Strictness;
import com.google.gson.internal.LazilyParsedNumber;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import java.io.IOException;
import java.io.Reader;
import java.io.StringReader;

/**
 * Strict JSON for files made by someone else ({@code config.json}, a safetensors header): RFC 8259
 * only (Gson's lenient mode, which {@code JsonParser.parseString} uses, accepts a bare word as a
 * string and comments), one value and nothing after it, no key twice in an object, at most {@value
 * #MAX_DEPTH} levels of nesting. Messages echo no content of the input, only where it failed.
 */
public final class StrictJson {

    /** The deepest nesting accepted (a config is 3 levels deep). */
    public static final int MAX_DEPTH = 64;

    private StrictJson() {}

    /**
     * Parses one JSON value.
     *
     * @param text the JSON text
     * @return the value
     * @throws IllegalArgumentException if the text is not one strict JSON value (the message says
     *     where, not what)
     */
    public static JsonElement parse(String text) {
        return parse(new StringReader(text));
    }

    /**
     * Parses one JSON value from a reader.
     *
     * @param in the reader (not closed)
     * @return the value
     * @throws IllegalArgumentException if the text is not one strict JSON value
     */
    public static JsonElement parse(Reader in) {
        JsonReader reader = new JsonReader(in);
        reader.setStrictness(Strictness.STRICT);
        try {
            JsonElement value = read(reader, 0);
            if (reader.peek() != JsonToken.END_DOCUMENT) {
                throw new IllegalArgumentException(
                        "not valid JSON: more after the value at " + reader.getPath());
            }
            return value;
        } catch (IOException | IllegalStateException | NumberFormatException e) {
            String message = String.valueOf(e.getMessage());
            // Gson's messages end with a link to its troubleshooting page; the position is enough
            int link = message.indexOf("\nSee https://");
            throw new IllegalArgumentException(
                    "not valid JSON: "
                            + BoundedText.of(link < 0 ? message : message.substring(0, link)),
                    e);
        }
    }

    private static JsonElement read(JsonReader reader, int depth) throws IOException {
        if (depth > MAX_DEPTH) {
            throw new IllegalArgumentException(
                    "not valid JSON here: nested deeper than "
                            + MAX_DEPTH
                            + " levels at "
                            + reader.getPath());
        }
        switch (reader.peek()) {
            case BEGIN_OBJECT:
                JsonObject object = new JsonObject();
                reader.beginObject();
                while (reader.hasNext()) {
                    String name = reader.nextName();
                    if (object.has(name)) {
                        throw new IllegalArgumentException(
                                "not valid JSON here: the key '"
                                        + BoundedText.of(name)
                                        + "' appears twice at "
                                        + BoundedText.of(reader.getPath()));
                    }
                    object.add(name, read(reader, depth + 1));
                }
                reader.endObject();
                return object;
            case BEGIN_ARRAY:
                JsonArray array = new JsonArray();
                reader.beginArray();
                while (reader.hasNext()) {
                    array.add(read(reader, depth + 1));
                }
                reader.endArray();
                return array;
            case STRING:
                return new JsonPrimitive(reader.nextString());
            case NUMBER:
                return new JsonPrimitive(new LazilyParsedNumber(reader.nextString()));
            case BOOLEAN:
                return new JsonPrimitive(reader.nextBoolean());
            case NULL:
                reader.nextNull();
                return JsonNull.INSTANCE;
            default:
                throw new IllegalArgumentException(
                        "not valid JSON: unexpected " + reader.peek() + " at " + reader.getPath());
        }
    }
}
