package ai.djl.ttt.training;

import ai.djl.ttt.runtime.AtomicFiles;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonParseException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What a checkpoint records about the run besides the weights: the settings, how far it got, and
 * the validation history. Saved as {@code training.json} in the model directory.
 */
public final class TrainingState {

    /** The run's settings. */
    public TrainingSettings settings;

    /** Optimizer steps done. */
    public int step;

    /** Training tokens consumed. */
    public long tokensSeen;

    /** Validation results, in order. */
    public List<Evaluation> validations = new ArrayList<>();

    /**
     * One validation.
     *
     * @param step the optimizer step
     * @param loss nats per token
     * @param bitsPerByte bits per UTF-8 byte
     */
    public record Evaluation(int step, double loss, double bitsPerByte) {}

    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().create();

    /**
     * Writes {@code training.json} atomically.
     *
     * @param file the file
     * @throws IOException if writing fails
     */
    public void save(Path file) throws IOException {
        AtomicFiles.writeAtomically(file, GSON.toJson(this) + "\n");
    }

    /**
     * Reads {@code training.json}.
     *
     * @param file the file
     * @return the state
     * @throws IOException if the file is missing or is not a training state
     */
    public static TrainingState load(Path file) throws IOException {
        try {
            TrainingState state =
                    GSON.fromJson(
                            Files.readString(file, StandardCharsets.UTF_8), TrainingState.class);
            if (state == null || state.settings == null) {
                throw new IOException(file + " holds no training state");
            }
            return state;
        } catch (JsonParseException e) {
            throw new IOException(file + " is not a valid training state: " + e.getMessage(), e);
        }
    }
}
