package ai.djl.ttt.io;

import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ttt.config.TttConfig;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A folder of reference tensors made by the official code, the format of {@code
 * shared/fixtures/ttt-reference/}:
 *
 * <ul>
 *   <li>{@code config.json}: the official {@code TTTConfig} fields, either at top level or under
 *       {@code "ttt_config"}; optionally {@code "kind"} ({@code "layer"} by default, or {@code
 *       "lm"}, {@code "decode"}) and {@code "tensors"}, a map from tensor name to {@code {"kind":
 *       "param" | "input" | "output" | "intermediate"}};
 *   <li>{@code tensors.safetensors} (or {@code tensors.npz}): the parameters under their official
 *       names, the inputs ({@code hidden_states}) and the expected outputs ({@code output}, and
 *       {@code output_f64} from a float64 run).
 * </ul>
 *
 * Without a {@code "tensors"} map, the names {@code hidden_states}, {@code position_ids}, {@code
 * input_ids}, {@code output*}, {@code *logits*} and {@code inter.*} are taken as non-parameters.
 */
public final class ReferenceCase implements AutoCloseable {

    private final Path directory;
    private final String kind;
    private final TttConfig config;
    private final StateDict tensors;
    private final Set<String> parameterNames;
    private final List<String> outputs;
    private final JsonObject metadata;

    private ReferenceCase(
            Path directory,
            String kind,
            TttConfig config,
            StateDict tensors,
            Set<String> parameterNames,
            List<String> outputs,
            JsonObject metadata) {
        this.directory = directory;
        this.kind = kind;
        this.config = config;
        this.tensors = tensors;
        this.parameterNames = parameterNames;
        this.outputs = outputs;
        this.metadata = metadata;
    }

    /**
     * Reads a case folder.
     *
     * @param manager the parent manager of the tensors
     * @param directory the folder
     * @return the case
     * @throws IOException if a file is missing or unreadable
     * @throws MalformedModelException if the tensors file is corrupt
     * @throws IllegalArgumentException if {@code config.json} is not a valid case description
     */
    public static ReferenceCase load(NDManager manager, Path directory)
            throws IOException, MalformedModelException {
        Path configFile = directory.resolve("config.json");
        if (!Files.isRegularFile(configFile)) {
            throw new IOException("no config.json in " + directory);
        }
        TttConfig config = TttConfig.load(configFile);
        JsonObject meta;
        try {
            JsonElement root =
                    JsonParser.parseString(Files.readString(configFile, StandardCharsets.UTF_8));
            meta = root.getAsJsonObject();
        } catch (JsonParseException | IllegalStateException e) {
            throw new IllegalArgumentException(configFile + ": " + e.getMessage(), e);
        }
        String kind = meta.has("kind") ? meta.get("kind").getAsString() : "layer";
        Path file = directory.resolve("tensors.safetensors");
        if (!Files.isRegularFile(file)) {
            file = directory.resolve("tensors.npz");
        }
        if (!Files.isRegularFile(file)) {
            throw new IOException("no tensors.safetensors or tensors.npz in " + directory);
        }
        StateDict tensors = StateDict.load(manager, file);
        Set<String> params = new HashSet<>();
        List<String> outputs = new ArrayList<>();
        if (meta.has("tensors") && meta.get("tensors").isJsonObject()) {
            for (Map.Entry<String, JsonElement> e : meta.getAsJsonObject("tensors").entrySet()) {
                String tensorKind = e.getValue().getAsJsonObject().get("kind").getAsString();
                if ("param".equals(tensorKind)) {
                    params.add(e.getKey());
                } else if ("output".equals(tensorKind)) {
                    outputs.add(e.getKey());
                }
            }
        } else {
            for (String name : tensors.names()) {
                if (isOutputName(name)) {
                    outputs.add(name);
                } else if (!isInputName(name) && !name.startsWith("inter.")) {
                    params.add(name);
                }
            }
        }
        for (String name : params) {
            if (!tensors.contains(name)) {
                tensors.close();
                throw new IllegalArgumentException(
                        configFile + " lists parameter '" + name + "' that " + file + " lacks");
            }
        }
        if (meta.has("derived_refs") && meta.get("derived_refs").isJsonObject()) {
            outputs.addAll(meta.getAsJsonObject("derived_refs").keySet());
        }
        return new ReferenceCase(directory, kind, config, tensors, params, outputs, meta);
    }

    private static boolean isOutputName(String name) {
        return name.startsWith("output") || name.contains("logits");
    }

    private static boolean isInputName(String name) {
        return "hidden_states".equals(name)
                || "position_ids".equals(name)
                || "input_ids".equals(name);
    }

    /**
     * Returns the folder.
     *
     * @return the path
     */
    public Path getDirectory() {
        return directory;
    }

    /**
     * Returns the kind of case: {@code "layer"}, {@code "lm"} or {@code "decode"}.
     *
     * @return the kind
     */
    public String getKind() {
        return kind;
    }

    /**
     * Returns the official config of the case.
     *
     * @return the config
     */
    public TttConfig getConfig() {
        return config;
    }

    /**
     * Returns the parameters under their official names.
     *
     * @return a view of the tensors
     */
    public StateDict parameters() {
        return tensors.filter(parameterNames::contains);
    }

    /**
     * Returns all tensors of the case (parameters, inputs, outputs, intermediates).
     *
     * @return the tensors
     */
    public StateDict tensors() {
        return tensors;
    }

    /**
     * Returns the names of the expected outputs, e.g. {@code output} and {@code output_f64}.
     *
     * @return the names
     */
    public List<String> getOutputs() {
        return outputs;
    }

    /**
     * Returns the expected value of an output: a tensor of the file, or a slice of one for the
     * {@code derived_refs} of {@code config.json} (e.g. {@code {"decode_logits_f64": {"from":
     * "full_logits_f64", "seq_slice": "20:"}}}).
     *
     * @param output the output name
     * @return the reference tensor
     */
    public NDArray reference(String output) {
        if (tensors.contains(output)) {
            return tensors.get(output);
        }
        JsonObject derived = metadata.getAsJsonObject("derived_refs").getAsJsonObject(output);
        return tensors.get(derived.get("from").getAsString())
                .get(":, " + derived.get("seq_slice").getAsString());
    }

    /**
     * Returns an integer field of {@code config.json}, e.g. {@code prompt_len} of a decode case.
     *
     * @param key the key
     * @return the value
     * @throws IllegalArgumentException if the key is missing
     */
    public int getInt(String key) {
        if (!metadata.has(key)) {
            throw new IllegalArgumentException(
                    directory.resolve("config.json") + " has no '" + key + "'");
        }
        return metadata.get(key).getAsInt();
    }

    /** Releases the tensors. */
    @Override
    public void close() {
        tensors.close();
    }
}
