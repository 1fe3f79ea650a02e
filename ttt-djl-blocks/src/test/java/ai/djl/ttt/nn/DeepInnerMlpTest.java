package ai.djl.ttt.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.ttt.config.LayerType;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.io.OfficialWeights;
import ai.djl.ttt.nn.inner.DenseChain;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The inner model's depth comes from the config ({@code ttt_inner_hidden_multiples}): the config
 * key, the layer's parameters and its FLOP count. Its math is covered with every other layer in
 * {@link TestLayers#smallConfigs} (dual = primal, prefill + decode = forward, finite-difference
 * gradients, scan split, native memory) and {@link TrainerTest} (trained with DJL's Trainer).
 */
class DeepInnerMlpTest {

    @Test
    void theKeyRoundTripsAndIsAbsentFromOfficialConfigs() {
        TttConfig deep = TestLayers.deepMlp();
        assertEquals(List.of(2, 3), deep.getInnerHiddenMultiples());
        assertTrue(deep.toJson().contains("\"ttt_inner_hidden_multiples\""), deep.toJson());
        assertEquals(deep, TttConfig.fromJson(deep.toJson()));

        TttConfig mlp = TestLayers.small(LayerType.MLP, true);
        assertEquals(List.of(4), mlp.getInnerHiddenMultiples(), "the paper's f -> 4f -> f");
        assertFalse(mlp.toJson().contains("ttt_inner_hidden_multiples"), "official keys only");
        assertEquals(
                mlp,
                mlp.toBuilder().setInnerHiddenMultiples(List.of(4)).build(),
                "an explicit [4] is the default");
        assertEquals(List.of(), TestLayers.small(LayerType.LINEAR, true).getInnerHiddenMultiples());
        assertTrue(
                mlp.differences(deep).contains("ttt_inner_hidden_multiples: null vs [2,3]"),
                mlp.differences(deep).toString());
    }

    @Test
    void badValuesNameTheKeyAndWhatWasExpected() {
        TttConfig.Builder linear = TestLayers.small(LayerType.LINEAR, false).toBuilder();
        IllegalArgumentException e =
                assertThrows(
                        IllegalArgumentException.class,
                        () -> linear.setInnerHiddenMultiples(List.of(2)).build());
        assertTrue(e.getMessage().contains("ttt_layer_type 'linear' has none"), e.getMessage());

        TttConfig.Builder mlp = TestLayers.small(LayerType.MLP, false).toBuilder();
        e =
                assertThrows(
                        IllegalArgumentException.class,
                        () -> mlp.setInnerHiddenMultiples(List.of()).build());
        assertTrue(e.getMessage().contains("at least one hidden layer"), e.getMessage());
        e =
                assertThrows(
                        IllegalArgumentException.class,
                        () -> mlp.setInnerHiddenMultiples(List.of(2, 0)).build());
        assertTrue(e.getMessage().contains("must be >= 1, got 0"), e.getMessage());
        e =
                assertThrows(
                        IllegalArgumentException.class,
                        () ->
                                TttConfig.fromJson(
                                        "{\"ttt_layer_type\": \"mlp\","
                                                + " \"ttt_inner_hidden_multiples\": 4}"));
        assertTrue(e.getMessage().contains("must be a list of integers, got 4"), e.getMessage());
    }

    @Test
    void theLayerDeclaresOneWeightAndBiasPerDenseLayer() {
        TttConfig config = TestLayers.deepMlp(); // H = 2, f = 16: 16 -> 32 -> 48 -> 16
        TttLayer layer = TttLayer.fromConfig(config);
        assertTrue(layer instanceof TttMlp);
        try (NDManager manager = NDManager.newBaseManager()) {
            layer.initialize(manager, DataType.FLOAT32, new Shape(1, 16, 32));
            List<String> names = new ArrayList<>();
            List<Shape> shapes = new ArrayList<>();
            for (Parameter p : layer.getInnerWeights()) {
                names.add(p.getName());
                shapes.add(p.getArray().getShape());
            }
            assertEquals(List.of("W1", "b1", "W2", "b2", "W3", "b3"), names);
            assertEquals(
                    List.of(
                            new Shape(2, 16, 32),
                            new Shape(2, 1, 32),
                            new Shape(2, 32, 48),
                            new Shape(2, 1, 48),
                            new Shape(2, 48, 16),
                            new Shape(2, 1, 16)),
                    shapes);
            assertTrue(OfficialWeights.parameterNames(layer).containsKey("W3"));
            assertEquals(1 + 2 * 3 + 1, layer.stateArrayCount(), "positions, 3 + 3, conv window");
        }
    }

    @Test
    void flopsFollowEveryDenseLayer() {
        int f = 16;
        int b = 16;
        DenseChain deep = new DenseChain(f, List.of(32, 48));
        // per layer a -> o: 6ao + 2b(a + o), and 2ao more after the first (back through W)
        double expected =
                (6 * 16 * 32 + 2 * b * (16 + 32))
                        + (8 * 32 * 48 + 2 * b * (32 + 48))
                        + (8 * 48 * 16 + 2 * b * (48 + 16));
        assertEquals(expected, deep.flopsPerToken(b));
        assertEquals(6.0 * f * f + 4 * b * f, new DenseChain(f, List.of()).flopsPerToken(b));
        assertEquals(56.0 * f * f + 20 * b * f, new DenseChain(f, List.of(4 * f)).flopsPerToken(b));
    }
}
