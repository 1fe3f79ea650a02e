package ai.djl.ttt.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.djl.ttt.config.LayerType;
import ai.djl.ttt.config.TttConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Bad input is an IllegalArgumentException whose message says what was expected and what came. */
class BadInputTest {

    private NDManager manager;
    private TttLayer layer;
    private ParameterStore ps;

    @BeforeEach
    void setUp() {
        manager = NDManager.newBaseManager();
        layer =
                TestLayers.layer(
                        TestLayers.small(LayerType.LINEAR, true), manager, DataType.FLOAT32, 1);
        ps = new ParameterStore(manager, false);
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    private NDList forward(NDArray x) {
        return layer.forward(ps, new NDList(x), false);
    }

    @Test
    void wrongRank() {
        assertMessage(
                () -> forward(manager.zeros(new Shape(4, 32))),
                "expects input (B, T, C) of rank 3, got shape (4, 32)");
    }

    @Test
    void wrongWidth() {
        assertMessage(
                () -> forward(manager.zeros(new Shape(2, 5, 16))),
                "expects C = hidden_size = 32 channels, got shape (2, 5, 16)");
    }

    @Test
    void emptySequence() {
        assertMessage(
                () -> forward(manager.zeros(new Shape(2, 0, 32))),
                "empty sequence (T = 0) in shape (2, 0, 32)");
    }

    @Test
    void nanInput() {
        NDArray x = manager.zeros(new Shape(1, 3, 32));
        x.set(new ai.djl.ndarray.index.NDIndex("0, 1, 2"), Float.NaN);
        assertMessage(() -> forward(x), "contains NaN or infinite values");
    }

    @Test
    void infiniteInput() {
        NDArray x = manager.zeros(new Shape(1, 3, 32));
        x.set(new ai.djl.ndarray.index.NDIndex("0, 2, 31"), Float.NEGATIVE_INFINITY);
        assertMessage(() -> forward(x), "contains NaN or infinite values");
    }

    @Test
    void hugeFiniteInputIsAccepted() {
        // the check sums the input first; a sum that overflows must not reject finite values
        NDArray x = manager.full(new Shape(1, 3, 32), Float.MAX_VALUE);
        NDArray y = forward(x).head();
        assertEquals(new Shape(1, 3, 32), y.getShape());
    }

    @Test
    void wrongDataType() {
        assertMessage(
                () -> forward(manager.zeros(new Shape(1, 3, 32), DataType.FLOAT64)),
                "parameters are float32 but the input is float64");
    }

    @Test
    void stateOfAnotherBatchSize() {
        NDArray x = TestLayers.input(manager, 2, 5, 32, 1, DataType.FLOAT32);
        TttState state = layer.prefill(ps, x, null, false).state();
        NDArray three = TestLayers.input(manager, 3, 1, 32, 2, DataType.FLOAT32);
        assertMessage(
                () -> layer.step(ps, three, state),
                "the state holds 2 sequences but the input has batch size 3");
    }

    @Test
    void stateOfAnotherLayer() {
        NDList state =
                new NDList(
                        manager.zeros(new Shape(2), DataType.INT64), manager.zeros(new Shape(2)));
        NDList in = new NDList(manager.zeros(new Shape(2, 1, 32)));
        in.addAll(state);
        assertMessage(
                () -> layer.forward(ps, in, false),
                "expected a TTT state of 4 arrays (positions, 1 inner layers, 1 pending gradients, conv window), got 2");
    }

    @Test
    void multiTokenCallWithRowsAtDifferentPositions() {
        TttState a =
                layer.prefill(
                                ps,
                                TestLayers.input(manager, 1, 3, 32, 1, DataType.FLOAT32),
                                null,
                                false)
                        .state();
        TttState b =
                layer.prefill(
                                ps,
                                TestLayers.input(manager, 1, 5, 32, 2, DataType.FLOAT32),
                                null,
                                false)
                        .state();
        TttState both = TttState.concat(java.util.List.of(a, b));
        assertEquals(2, both.getBatchSize());
        assertMessage(
                () -> layer.prefill(ps, manager.zeros(new Shape(2, 4, 32)), both, false),
                "rows at different positions can only advance one token per call; got T = 4");
    }

    @Test
    void stepWithSeveralTokens() {
        assertMessage(
                () -> layer.step(ps, manager.zeros(new Shape(1, 2, 32)), TttState.start(1)),
                "step() decodes one token: expected (B, 1, C), got (1, 2, 32)");
    }

    @Test
    void configOfTheWrongLayerType() {
        TttConfig mlp = TestLayers.small(LayerType.MLP, false);
        assertMessage(
                () -> TttLinear.builder().setConfig(mlp).build(),
                "TttLinear needs ttt_layer_type 'linear', the config says 'mlp'");
        assertMessage(() -> TttMlp.builder().build(), "setConfig(TttConfig) is required");
    }

    static void assertMessage(Executable call, String expected) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(
                e.getMessage().contains(expected),
                "message '" + e.getMessage() + "' should contain '" + expected + "'");
    }
}
