package ai.djl.ttt.training;

import ai.djl.ttt.runtime.AtomicFiles;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Byte-level tokenization: a token is one byte of the UTF-8 encoding, 256 ids. Needs no vocabulary
 * file and no download; bits per token are then bits per byte.
 */
public final class ByteTokenizer implements Tokenizer {

    static final String MARKER_FILE = "tokenizer.txt";

    /** {@inheritDoc} */
    @Override
    public long[] encode(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        long[] ids = new long[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            ids[i] = bytes[i] & 0xFF;
        }
        return ids;
    }

    /** {@inheritDoc} */
    @Override
    public String decode(long[] ids) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(ids.length);
        for (long id : ids) {
            if (id < 0 || id > 255) {
                throw new IllegalArgumentException("byte token ids are 0..255, got " + id);
            }
            out.write((int) id);
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    /** {@inheritDoc} */
    @Override
    public int vocabSize() {
        return 256;
    }

    /** {@inheritDoc} */
    @Override
    public String describe() {
        return "bytes (UTF-8, 256 ids)";
    }

    /** {@inheritDoc} */
    @Override
    public void save(Path modelDir) throws IOException {
        AtomicFiles.writeAtomically(modelDir.resolve(MARKER_FILE), "bytes\n");
    }
}
