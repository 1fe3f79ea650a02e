package ai.djl.ttt.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizerTest {

    private static final Path WORD_LEVEL = Path.of("src/test/resources/tokenizers/word-level.json");

    @Test
    void bytesRoundTripAnyText() {
        ByteTokenizer tokenizer = new ByteTokenizer();
        String text = "TTT — état, 状態, 🙂";
        long[] ids = tokenizer.encode(text);
        assertEquals(text.getBytes(java.nio.charset.StandardCharsets.UTF_8).length, ids.length);
        assertEquals(text, tokenizer.decode(ids));
        assertEquals(256, tokenizer.vocabSize());
    }

    @Test
    void localHuggingFaceTokenizerJson() throws Exception {
        try (HuggingFaceTextTokenizer tokenizer = HuggingFaceTextTokenizer.load(WORD_LEVEL)) {
            assertEquals(6, tokenizer.vocabSize());
            assertArrayEquals(new long[] {1, 2, 4, 5}, tokenizer.encode("the state learns."));
            assertArrayEquals(new long[] {1, 0}, tokenizer.encode("the weights"));
            assertEquals("the layer learns .", tokenizer.decode(new long[] {1, 3, 4, 5}));
        }
    }

    @Test
    void savedTokenizersLoadFromAModelDirectory(@TempDir Path dir) throws Exception {
        Path bytes = dir.resolve("bytes");
        new ByteTokenizer().save(bytes);
        assertTrue(Tokenizer.load(bytes) instanceof ByteTokenizer);

        Path words = dir.resolve("words");
        try (HuggingFaceTextTokenizer t = HuggingFaceTextTokenizer.load(WORD_LEVEL)) {
            t.save(words);
        }
        try (Tokenizer t = Tokenizer.load(words)) {
            assertArrayEquals(new long[] {3, 4}, t.encode("layer learns"));
        }
        IOException missing =
                assertThrows(IOException.class, () -> Tokenizer.load(dir.resolve("none")));
        assertTrue(
                missing.getMessage().contains("neither tokenizer.json nor"), missing.getMessage());

        Path broken = dir.resolve("broken.json");
        Files.writeString(broken, "{\"model\": 3}");
        IOException invalid =
                assertThrows(IOException.class, () -> HuggingFaceTextTokenizer.load(broken));
        assertTrue(invalid.getMessage().contains("broken.json"), invalid.getMessage());
    }
}
