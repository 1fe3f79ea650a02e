package ai.djl.ttt.training;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ttt.runtime.AtomicFiles;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;

/**
 * A HuggingFace tokenizer read from a local {@code tokenizer.json}, through DJL's {@code
 * ai.djl.huggingface:tokenizers} (its native library ships in the jar, so nothing is downloaded).
 * Special tokens are not added: training windows are cut from one long token stream.
 */
public final class HuggingFaceTextTokenizer implements Tokenizer {

    private final HuggingFaceTokenizer tokenizer;
    private final Path source;
    private final int vocabSize;

    private HuggingFaceTextTokenizer(HuggingFaceTokenizer tokenizer, Path source, int vocabSize) {
        this.tokenizer = tokenizer;
        this.source = source;
        this.vocabSize = vocabSize;
    }

    /**
     * Loads a {@code tokenizer.json}.
     *
     * @param file the file
     * @return the tokenizer
     * @throws IOException if the file cannot be read or parsed
     */
    public static HuggingFaceTextTokenizer load(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IOException("no tokenizer file " + file);
        }
        HuggingFaceTokenizer tokenizer;
        try {
            tokenizer =
                    HuggingFaceTokenizer.newInstance(
                            file, Map.of("addSpecialTokens", "false", "truncation", "false"));
        } catch (RuntimeException e) {
            throw new IOException(
                    file
                            + " is not a valid HuggingFace tokenizer.json: "
                            + ai.djl.ttt.runtime.BoundedText.of(e.getMessage()),
                    e);
        }
        int vocab = vocabularySize(file);
        return new HuggingFaceTextTokenizer(tokenizer, file, vocab);
    }

    /** The largest id of the model's vocabulary and the added tokens, plus one. */
    private static int vocabularySize(Path file) throws IOException {
        JsonObject json = JsonParser.parseString(Files.readString(file)).getAsJsonObject();
        int max = -1;
        JsonObject model = json.getAsJsonObject("model");
        if (model != null && model.has("vocab") && model.get("vocab").isJsonObject()) {
            for (Map.Entry<String, JsonElement> e : model.getAsJsonObject("vocab").entrySet()) {
                max = Math.max(max, e.getValue().getAsInt());
            }
        } else if (model != null && model.has("vocab") && model.get("vocab").isJsonArray()) {
            max = model.getAsJsonArray("vocab").size() - 1; // Unigram: [piece, score] pairs
        }
        if (json.has("added_tokens") && json.get("added_tokens").isJsonArray()) {
            for (JsonElement t : json.getAsJsonArray("added_tokens")) {
                max = Math.max(max, t.getAsJsonObject().get("id").getAsInt());
            }
        }
        if (max < 0) {
            throw new IOException(file + ": cannot find the vocabulary (model.vocab)");
        }
        return max + 1;
    }

    /** {@inheritDoc} */
    @Override
    public long[] encode(String text) {
        Encoding encoding = tokenizer.encode(text, false, false);
        return encoding.getIds();
    }

    /** {@inheritDoc} */
    @Override
    public String decode(long[] ids) {
        return tokenizer.decode(ids, false);
    }

    /** {@inheritDoc} */
    @Override
    public int vocabSize() {
        return vocabSize;
    }

    /** {@inheritDoc} */
    @Override
    public String describe() {
        return source.getFileName() + " (" + vocabSize + " ids)";
    }

    /** {@inheritDoc} */
    @Override
    public void save(Path modelDir) throws IOException {
        AtomicFiles.writeAtomically(
                modelDir.resolve("tokenizer.json"),
                tmp -> Files.copy(source, tmp, StandardCopyOption.REPLACE_EXISTING));
    }

    /** {@inheritDoc} */
    @Override
    public void close() {
        tokenizer.close();
    }
}
