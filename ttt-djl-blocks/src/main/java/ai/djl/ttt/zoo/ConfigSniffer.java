package ai.djl.ttt.zoo;

import ai.djl.ttt.runtime.BoundedText;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Tells from a {@code config.json} whether its folder may be a TTT model, reading no more than that
 * needs: the top-level {@code model_type} (or the one under {@code "ttt_config"}), streamed, every
 * other value skipped without being kept. A file over {@link #maxBytes()} is not read at all.
 * Verdicts are cached by path, modification time and size, so a zoo search reads each config once
 * until it changes.
 */
final class ConfigSniffer {

    private static final Pattern JSON_POSITION = Pattern.compile("line (\\d+) column (\\d+)");

    /** The system property that sets the largest config.json the zoo reads, in bytes. */
    static final String MAX_BYTES_PROPERTY = "ai.djl.ttt.zoo.maxConfigBytes";

    /** What a config.json says about its folder. */
    enum Kind {
        /** model_type "ttt" or none: a TTT model, or one whose loading says what is wrong. */
        TTT,
        /** Another library's model, or not a JSON object: not listed. */
        FOREIGN,
        /** Unreadable (truncated, not JSON, too large): listed, and loading says why. */
        BROKEN
    }

    /**
     * A verdict.
     *
     * @param kind what the folder is
     * @param reason why, for logs and messages ({@code null} for {@link Kind#TTT})
     */
    record Verdict(Kind kind, String reason) {}

    private record Cached(FileTime modified, long size, Verdict verdict) {}

    private static final Map<Path, Cached> CACHE = new ConcurrentHashMap<>();

    private ConfigSniffer() {}

    /**
     * The largest config.json read: {@value #MAX_BYTES_PROPERTY}, default 1 MiB (the limit of
     * {@code TttConfig.load}).
     *
     * @return bytes
     */
    static long maxBytes() {
        try {
            return Long.parseLong(System.getProperty(MAX_BYTES_PROPERTY, "1048576"));
        } catch (NumberFormatException e) {
            return 1L << 20;
        }
    }

    /**
     * Returns what a config.json says, from the cache while the file is unchanged.
     *
     * @param config the file
     * @return the verdict
     */
    static Verdict sniff(Path config) {
        BasicFileAttributes attributes;
        try {
            attributes = Files.readAttributes(config, BasicFileAttributes.class);
        } catch (IOException e) {
            return new Verdict(Kind.BROKEN, "config.json cannot be read (" + e + ")");
        }
        Path key = config.toAbsolutePath().normalize();
        Cached cached = CACHE.get(key);
        if (cached != null
                && cached.modified().equals(attributes.lastModifiedTime())
                && cached.size() == attributes.size()) {
            return cached.verdict();
        }
        Verdict verdict = read(config, attributes.size());
        CACHE.put(key, new Cached(attributes.lastModifiedTime(), attributes.size(), verdict));
        return verdict;
    }

    private static Verdict read(Path config, long size) {
        long max = maxBytes();
        if (size > max) {
            return new Verdict(
                    Kind.BROKEN,
                    "config.json is "
                            + size
                            + " bytes, over the "
                            + max
                            + " bytes the zoo reads ("
                            + MAX_BYTES_PROPERTY
                            + "); not read");
        }
        try (Reader in = Files.newBufferedReader(config, StandardCharsets.UTF_8)) {
            JsonReader reader = new JsonReader(in);
            reader.setStrictness(Strictness.STRICT);
            if (reader.peek() != JsonToken.BEGIN_OBJECT) {
                return new Verdict(Kind.FOREIGN, "config.json is not a JSON object");
            }
            String type = modelType(reader, true);
            if (type != null && !"ttt".equalsIgnoreCase(type)) {
                return new Verdict(
                        Kind.FOREIGN,
                        "config.json has model_type \"" + BoundedText.of(type) + "\", not \"ttt\"");
            }
            return new Verdict(Kind.TTT, null);
        } catch (IOException | RuntimeException e) {
            // one line: where the JSON breaks, not the parser's wording and links
            Matcher at = JSON_POSITION.matcher(String.valueOf(e.getMessage()));
            return new Verdict(
                    Kind.BROKEN,
                    "config.json is not readable JSON"
                            + (at.find()
                                    ? " (at line " + at.group(1) + " column " + at.group(2) + ")"
                                    : " (" + BoundedText.of(e.getMessage()) + ")"));
        }
    }

    /**
     * Reads an object, returning its model_type (or, at top level, the one under ttt_config): "ttt"
     * for a model_type that is not a string, so that loading reports it.
     */
    private static String modelType(JsonReader reader, boolean top) throws IOException {
        String type = null;
        String inner = null;
        reader.beginObject();
        while (reader.hasNext()) {
            String name = reader.nextName();
            if ("model_type".equals(name) && reader.peek() == JsonToken.STRING) {
                type = reader.nextString();
                if (top) {
                    // enough: the top level's model_type decides
                    return type;
                }
            } else if (top
                    && "ttt_config".equals(name)
                    && reader.peek() == JsonToken.BEGIN_OBJECT) {
                inner = modelType(reader, false);
            } else {
                reader.skipValue();
            }
        }
        reader.endObject();
        return type != null ? type : inner;
    }
}
