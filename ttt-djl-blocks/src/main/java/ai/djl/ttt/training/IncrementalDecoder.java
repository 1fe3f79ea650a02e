package ai.djl.ttt.training;

import java.util.ArrayList;
import java.util.List;

/**
 * Turns a stream of token ids into a stream of text pieces, as tokens are generated: each call
 * returns the text the new token completes. Bytes of a multi-byte UTF-8 character (or pieces a
 * subword decoder would still change) are held back until the character is complete.
 */
public final class IncrementalDecoder {

    private final Tokenizer tokenizer;
    private final List<Long> ids = new ArrayList<>();
    private int emitted;

    /**
     * Creates a decoder.
     *
     * @param tokenizer the tokenizer of the ids
     */
    public IncrementalDecoder(Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /**
     * Adds a token.
     *
     * @param token the token id
     * @return the new text, possibly empty
     */
    public String add(long token) {
        ids.add(token);
        String text = tokenizer.decode(ids.stream().mapToLong(Long::longValue).toArray());
        int end = text.length();
        while (end > emitted && text.charAt(end - 1) == '\uFFFD') {
            end--; // an incomplete UTF-8 sequence so far
        }
        if (end <= emitted) {
            return "";
        }
        String piece = text.substring(emitted, end);
        emitted = end;
        return piece;
    }
}
