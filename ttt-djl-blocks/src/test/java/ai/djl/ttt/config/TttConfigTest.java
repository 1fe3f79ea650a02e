package ai.djl.ttt.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

class TttConfigTest {

    @Test
    void defaultsAreTheOfficialOnes() {
        TttConfig c = TttConfig.builder().build();
        assertEquals(32000, c.getVocabSize());
        assertEquals(2048, c.getHiddenSize());
        assertEquals(5504, c.getIntermediateSize());
        assertEquals(24, c.getNumHiddenLayers());
        assertEquals(32, c.getNumAttentionHeads());
        assertEquals(16, c.getMiniBatchSize());
        assertEquals(LayerType.LINEAR, c.getLayerType());
        assertEquals(1.0, c.getTttBaseLr());
        assertEquals(10000.0, c.getRopeTheta());
        assertEquals(4, c.getConvKernel());
        assertTrue(c.isTieWordEmbeddings());
        assertFalse(c.isPreConv() || c.isShareQk() || c.isUseGate());
    }

    @Test
    void presetsMatchTheStandardConfigs() {
        int[][] expected = {
            {768, 2048, 12, 12, 64}, {1024, 2736, 24, 16, 64},
            {1536, 4096, 24, 16, 96}, {2048, 5504, 24, 32, 64}
        };
        for (int i = 0; i < TttConfig.PRESETS.size(); i++) {
            TttConfig c = TttConfig.preset(TttConfig.PRESETS.get(i));
            assertEquals(expected[i][0], c.getHiddenSize());
            assertEquals(expected[i][1], c.getIntermediateSize());
            assertEquals(expected[i][2], c.getNumHiddenLayers());
            assertEquals(expected[i][3], c.getNumAttentionHeads());
            assertEquals(expected[i][4], c.getHeadDim());
            assertFalse(c.isPreConv(), "official presets are the Transformer backbone");
        }
    }

    @Test
    void paperModelsUseTheMambaBackboneAndTheirInnerLearningRate() {
        TttConfig mlp = TttConfig.paper("125m", LayerType.MLP);
        assertTrue(mlp.isPreConv() && mlp.isShareQk() && mlp.isUseGate());
        assertEquals(0.1, mlp.getTttBaseLr());
        assertEquals(1.0, TttConfig.paper("1b", LayerType.LINEAR).getTttBaseLr());
    }

    @Test
    void jsonRoundTripKeepsEveryValue() throws Exception {
        TttConfig c =
                TttConfig.paper("350m", LayerType.MLP).toBuilder()
                        .setPadTokenId(0)
                        .setRopeTheta(500000)
                        .setRmsNormEps(1e-5)
                        .build();
        assertEquals(c, TttConfig.fromJson(c.toJson()));
        assertTrue(c.toJson().contains("\"ttt_layer_type\": \"mlp\""));
        assertTrue(c.toJson().contains("\"pad_token_id\": 0"));
    }

    @Test
    void readsTheFixtureConfigNestedUnderTttConfig() throws Exception {
        TttConfig c =
                TttConfig.load(
                        Path.of("src/test/resources/ttt-reference/ttt_mlp_layer_T64/config.json"));
        assertEquals(64, c.getHiddenSize());
        assertEquals(4, c.getNumAttentionHeads());
        assertEquals(LayerType.MLP, c.getLayerType());
        assertEquals(32, c.getIntermediateSize());
    }

    @Test
    void ignoresHuggingFaceBookkeepingKeys() {
        TttConfig c =
                TttConfig.fromJson(
                        "{\"architectures\": [\"TTTForCausalLM\"], \"model_type\": \"ttt\","
                                + " \"torch_dtype\": \"float32\", \"hidden_size\": 64,"
                                + " \"num_attention_heads\": 4, \"rope_scaling\": null}");
        assertEquals(16, c.getHeadDim());
    }

    @Test
    void saveIsAtomicAndReadable(@TempDir Path dir) throws Exception {
        TttConfig c = TttConfig.preset("125m");
        Path file = dir.resolve("config.json");
        c.save(file);
        assertEquals(c, TttConfig.load(file));
        try (var files = Files.list(dir)) {
            assertEquals(1, files.count(), "no temporary file is left behind");
        }
    }

    @Test
    void invalidValuesSayWhatIsWrong() {
        assertMessage(
                () -> TttConfig.builder().setHiddenSize(64).setNumAttentionHeads(5).build(),
                "hidden_size (64) must be divisible by num_attention_heads (5)");
        assertMessage(
                () -> TttConfig.builder().setMiniBatchSize(0).build(),
                "mini_batch_size must be >= 1, got 0");
        assertMessage(
                () -> TttConfig.builder().setHiddenSize(36).setNumAttentionHeads(4).build(),
                "head_dim = hidden_size / num_attention_heads = 9 must be even");
        assertMessage(
                () -> TttConfig.fromJson("{\"ttt_layer_type\": \"transformer\"}"),
                "Unknown ttt_layer_type 'transformer': expected one of linear, mlp, attention");
        assertMessage(
                () -> TttConfig.fromJson("{\"hiden_size\": 64}"),
                "Unknown config key 'hiden_size'");
        assertMessage(
                () -> TttConfig.fromJson("{\"hidden_size\": 64.5}"),
                "hidden_size must be an integer, got 64.5");
        assertMessage(
                () -> TttConfig.fromJson("{\"share_qk\": \"yes\"}"),
                "share_qk must be true or false");
        assertMessage(
                () -> TttConfig.fromJson("{\"rope_scaling\": {\"type\": \"linear\"}}"),
                "rope_scaling is not supported");
        assertMessage(() -> TttConfig.fromJson("[1, 2]"), "config must be a JSON object");
        assertMessage(() -> TttConfig.fromJson("{oops"), "config is not valid JSON");
        assertMessage(
                () -> TttConfig.builder().setTttBaseLr(Double.NaN).build(),
                "ttt_base_lr must be finite and >= 0, got NaN");
        assertMessage(() -> TttConfig.preset("7b"), "Unknown preset '7b'");
    }

    static void assertMessage(Executable call, String expected) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(
                e.getMessage().contains(expected),
                "message '" + e.getMessage() + "' should contain '" + expected + "'");
    }
}
