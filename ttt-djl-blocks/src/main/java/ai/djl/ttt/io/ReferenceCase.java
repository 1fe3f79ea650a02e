package ai.djl.ttt.io;

import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.runtime.BoundedText;
import ai.djl.ttt.runtime.StrictJson;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A folder of reference tensors made by the official code, the format of {@code
 * shared/fixtures/ttt-reference/}:
 *
 * <ul>
 *   <li>{@code config.json}: the official {@code TTTConfig} fields, either at top level or under
 *       {@code "ttt_config"}; optionally {@code "kind"} ({@code "layer"} by default, or {@code
 *       "lm"}, {@code "decode"}) and {@code "tensors"}, a map from tensor name to {@code {"kind":
 *       "param" | "input" | "output" | "intermediate"}};
 *   <li>{@code tensors.safetensors} and/or {@code tensors.npz}: the parameters under their official
 *       names, the inputs ({@code hidden_states}, optionally {@code position_ids}) and the expected
 *       outputs ({@code output}, and {@code output_f64} from a float64 run). When both files are
 *       present they must hold the same tensors (checked value by value): a check that read one of
 *       them only would pass whatever the other says.
 * </ul>
 *
 * Without a {@code "tensors"} map, the names {@code hidden_states}, {@code position_ids}, {@code
 * input_ids}, {@code output*}, {@code *logits*} and {@code inter.*} are taken as non-parameters.
 *
 * <p>A case must list at least one output, and every listed output must be in the tensors file (or
 * be a {@code derived_refs} slice of one): otherwise {@link #load} fails naming it, so a case
 * cannot pass by checking nothing.
 */
public final class ReferenceCase implements AutoCloseable {

    /** What a case folder holds, for the messages about a path that is not one. */
    public static final String EXPECTED =
            "a reference case folder with config.json and tensors.safetensors or tensors.npz,"
                    + " written from the official code as docs/official-checkpoints.md shows";

    private final Path directory;
    private final String kind;
    private final TttConfig config;
    private final StateDict tensors;
    private final Set<String> parameterNames;
    private final List<String> outputs;
    private final JsonObject metadata;
    private final List<Path> tensorFiles;

    private ReferenceCase(
            Path directory,
            String kind,
            TttConfig config,
            StateDict tensors,
            Set<String> parameterNames,
            List<String> outputs,
            JsonObject metadata,
            List<Path> tensorFiles) {
        this.tensorFiles = tensorFiles;
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
     * @throws IllegalArgumentException if {@code config.json} is not a valid case description,
     *     lists no output or an output that the tensors lack, or if {@code tensors.safetensors} and
     *     {@code tensors.npz} are both present and differ
     */
    public static ReferenceCase load(NDManager manager, Path directory)
            throws IOException, MalformedModelException {
        Path configFile = directory.resolve("config.json");
        if (!Files.isRegularFile(configFile)) {
            throw new FileNotFoundException(
                    (Files.isDirectory(directory) ? "no config.json in " : "no such folder ")
                            + directory
                            + " (expected "
                            + EXPECTED
                            + ")");
        }
        TttConfig config = TttConfig.load(configFile);
        JsonObject meta;
        try {
            // TttConfig.load has checked the size and that it is a strict JSON object
            JsonElement root =
                    StrictJson.parse(Files.readString(configFile, StandardCharsets.UTF_8));
            meta = root.getAsJsonObject();
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new IllegalArgumentException(
                    configFile + ": " + BoundedText.of(e.getMessage()), e);
        }
        String kind = meta.has("kind") ? meta.get("kind").getAsString() : "layer";
        List<Path> files = new ArrayList<>();
        for (String name : List.of("tensors.safetensors", "tensors.npz")) {
            if (Files.isRegularFile(directory.resolve(name))) {
                files.add(directory.resolve(name));
            }
        }
        if (files.isEmpty()) {
            throw new IOException("no tensors.safetensors or tensors.npz in " + directory);
        }
        Path file = files.get(0);
        StateDict tensors = StateDict.load(manager, file);
        if (files.size() > 1) {
            try (StateDict other = StateDict.load(manager, files.get(1))) {
                requireSame(tensors, file, other, files.get(1));
            } catch (IllegalArgumentException | IOException | MalformedModelException e) {
                tensors.close();
                throw e;
            }
        }
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
        try {
            requireOutputs(configFile, file, tensors, outputs, meta);
        } catch (IllegalArgumentException e) {
            tensors.close();
            throw e;
        }
        return new ReferenceCase(
                directory, kind, config, tensors, params, outputs, meta, List.copyOf(files));
    }

    /** Fails unless the case lists an output and the tensors hold every listed one. */
    private static void requireOutputs(
            Path configFile, Path file, StateDict tensors, List<String> outputs, JsonObject meta) {
        if (outputs.isEmpty()) {
            throw new IllegalArgumentException(
                    configFile
                            + " lists no outputs to compare (expected tensors of kind \"output\","
                            + " or names output*/ *logits* in "
                            + file.getFileName()
                            + ")");
        }
        for (String name : outputs) {
            String source = name;
            if (!tensors.contains(name)
                    && meta.has("derived_refs")
                    && meta.getAsJsonObject("derived_refs").has(name)) {
                JsonElement from =
                        meta.getAsJsonObject("derived_refs").getAsJsonObject(name).get("from");
                source = from == null ? null : from.getAsString();
            }
            if (source == null || !tensors.contains(source)) {
                throw new IllegalArgumentException(
                        configFile
                                + " lists output '"
                                + name
                                + "'"
                                + (name.equals(source) ? "" : " (from '" + source + "')")
                                + " that "
                                + file.getFileName()
                                + " lacks");
            }
        }
    }

    /** Fails unless two tensor files hold the same names, types, shapes and values. */
    private static void requireSame(StateDict a, Path fileA, StateDict b, Path fileB) {
        if (!a.names().equals(b.names())) {
            Set<String> onlyA = new TreeSet<>(a.names());
            onlyA.removeAll(b.names());
            Set<String> onlyB = new TreeSet<>(b.names());
            onlyB.removeAll(a.names());
            throw new IllegalArgumentException(
                    fileA
                            + " and "
                            + fileB.getFileName()
                            + " hold different tensors: only in the first "
                            + onlyA
                            + ", only in the second "
                            + onlyB);
        }
        for (String name : a.names()) {
            NDArray x = a.get(name);
            NDArray y = b.get(name);
            if (x.getDataType() != y.getDataType()
                    || !x.getShape().equals(y.getShape())
                    || !Arrays.equals(x.toByteArray(), y.toByteArray())) {
                throw new IllegalArgumentException(
                        fileA
                                + " and "
                                + fileB.getFileName()
                                + " differ at tensor '"
                                + name
                                + "': "
                                + x.getDataType()
                                + x.getShape()
                                + " vs "
                                + y.getDataType()
                                + y.getShape()
                                + (x.getShape().equals(y.getShape()) ? ", different values" : ""));
            }
        }
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
     * Returns the tensor files read: {@code tensors.safetensors}, {@code tensors.npz}, or both
     * (then checked equal).
     *
     * @return the files, the one whose tensors are used first
     */
    public List<Path> getTensorFiles() {
        return tensorFiles;
    }

    /**
     * Returns the case's {@code position_ids} ({@code (1, T)} or {@code (B, T)}), if it has them.
     *
     * @return the positions, or {@code null}
     */
    public NDArray positionIds() {
        return tensors.contains("position_ids") ? tensors.get("position_ids") : null;
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
     * @throws IllegalArgumentException if the case has no such output
     */
    public NDArray reference(String output) {
        if (tensors.contains(output)) {
            return tensors.get(output);
        }
        JsonObject refs = metadata.getAsJsonObject("derived_refs");
        JsonObject derived = refs == null ? null : refs.getAsJsonObject(output);
        if (derived == null) {
            throw new IllegalArgumentException(
                    "no output '"
                            + output
                            + "' in "
                            + tensors.getSource()
                            + " or its derived_refs");
        }
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
