package ai.djl.ttt.training;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Turns text into token ids and back. Two kinds: {@link ByteTokenizer} (UTF-8 bytes, 256 ids, no
 * file needed) and {@link HuggingFaceTextTokenizer} (any local HuggingFace {@code tokenizer.json}).
 */
public interface Tokenizer extends AutoCloseable {

    /**
     * Encodes text.
     *
     * @param text the text
     * @return the token ids
     */
    long[] encode(String text);

    /**
     * Decodes token ids.
     *
     * @param ids the ids
     * @return the text (invalid byte sequences become U+FFFD)
     */
    String decode(long[] ids);

    /**
     * Returns the number of ids, V.
     *
     * @return the vocabulary size
     */
    int vocabSize();

    /**
     * Returns a short description, e.g. {@code bytes} or {@code tokenizer.json (50277 ids)}.
     *
     * @return the description
     */
    String describe();

    /**
     * Writes what {@link #load(Path)} needs into a model directory.
     *
     * @param modelDir the directory
     * @throws IOException if writing fails
     */
    void save(Path modelDir) throws IOException;

    /** Releases native resources, if any. */
    @Override
    default void close() {}

    /**
     * Loads the tokenizer saved in a model directory: {@code tokenizer.json} if present, else the
     * byte tokenizer (recorded in {@code tokenizer.txt}).
     *
     * @param modelDir the directory
     * @return the tokenizer
     * @throws IOException if the tokenizer files cannot be read
     */
    static Tokenizer load(Path modelDir) throws IOException {
        Path json = modelDir.resolve("tokenizer.json");
        if (Files.isRegularFile(json)) {
            return HuggingFaceTextTokenizer.load(json);
        }
        Path marker = modelDir.resolve(ByteTokenizer.MARKER_FILE);
        if (Files.isRegularFile(marker)
                && Files.readString(marker, StandardCharsets.UTF_8).trim().equals("bytes")) {
            return new ByteTokenizer();
        }
        throw new IOException(
                modelDir
                        + " has neither tokenizer.json nor a byte-tokenizer marker ("
                        + ByteTokenizer.MARKER_FILE
                        + ")");
    }
}
