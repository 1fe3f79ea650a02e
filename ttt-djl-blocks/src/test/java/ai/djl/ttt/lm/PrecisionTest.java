package ai.djl.ttt.lm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.djl.ttt.config.LayerType;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.io.OfficialWeights;
import ai.djl.ttt.io.ParityCheck;
import ai.djl.ttt.io.StateDict;
import ai.djl.ttt.nn.TestLayers;
import ai.djl.ttt.nn.TttLayer;
import ai.djl.ttt.runtime.NoGrad;
import ai.djl.ttt.runtime.Precision;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * float16 inference ({@link CausalLm#setPrecision}): a decode step stays within a stated tolerance
 * of float32, with float32 logits and state; everything that is not a one-row product (prefill,
 * batched decode on a CPU) is exactly float32; back in float32 nothing is left of float16; and
 * bfloat16 is refused everywhere before an array exists (the JVM survives: this test goes on).
 */
class PrecisionTest {

    /**
     * Largest relative error of float16 decode logits against float32 over the steps below. float16
     * keeps 11 significant bits (unit roundoff 4.9e-4); a one-row product of width C accumulates in
     * float32, so each product's output is off by about that much relative, and the errors of the
     * ~10 products between a token and its logits add up to a few 1e-3.
     */
    static final double TOLERANCE = 2e-3;

    /** Transformer and Mamba backbones (share_qk, gate, pre-conv), linear and MLP inner models. */
    private static List<TttConfig> configs() {
        return List.of(
                TestModels.tiny(LayerType.LINEAR),
                TestModels.tiny(LayerType.MLP),
                TestLayers.small(LayerType.LINEAR, false),
                TestLayers.small(LayerType.MLP, false));
    }

    @Test
    void float16DecodeStaysWithinToleranceWithFloat32LogitsAndState() {
        for (TttConfig config : configs()) {
            try (NDManager manager = NDManager.newBaseManager();
                    NoGrad off = NoGrad.open(manager)) {
                CausalLm model = TestModels.model(config, manager, 3);
                ParameterStore ps = new ParameterStore(manager, false);
                NDArray ids = TestModels.ids(manager, 1, 60, 64, 5);
                int prompt = 21;
                LmState start = model.prefill(ps, ids.get(":, 0:{}", prompt), null, false).state();
                List<NDArray> exact = decode(model, ps, ids, start, prompt);
                model.setPrecision(Precision.FLOAT16);
                assertEquals(Precision.FLOAT16, model.getPrecision());
                List<NDArray> half = decode(model, ps, ids, start, prompt);
                double worst = 0;
                for (int i = 0; i < exact.size(); i++) {
                    assertEquals(DataType.FLOAT32, half.get(i).getDataType(), "logits' type");
                    worst = Math.max(worst, ParityCheck.relativeError(half.get(i), exact.get(i)));
                }
                String name = describe(config);
                assertTrue(worst <= TOLERANCE, name + ": float16 decode off by " + worst);
                // the float16 path did run: a one-row product in float16 rounds differently
                assertTrue(worst > 1e-6, name + ": float16 decode equals float32 (" + worst + ")");
                LmState after = model.prefill(ps, ids.get(":, 21:22"), start, false).state();
                for (NDArray a : after.arrays()) {
                    if (a.getDataType().isFloating()) {
                        assertEquals(DataType.FLOAT32, a.getDataType(), name + ": state type");
                    }
                }
            }
        }
    }

    @Test
    void prefillAndBatchedDecodeInFloat16ModeAreExactlyFloat32OnCpu() {
        for (TttConfig config : configs()) {
            try (NDManager manager = NDManager.newBaseManager();
                    NoGrad off = NoGrad.open(manager)) {
                CausalLm model = TestModels.model(config, manager, 4);
                ParameterStore ps = new ParameterStore(manager, false);
                NDArray ids = TestModels.ids(manager, 2, 20, 64, 6);
                NDArray next = TestModels.ids(manager, 2, 1, 64, 7);
                CausalLm.Output a = model.prefill(ps, ids, null, false);
                NDArray aNext = model.prefill(ps, next, a.state(), false).logits();
                NDArray single = model.prefill(ps, ids.get("0:1"), null, false).logits();
                model.setPrecision(Precision.FLOAT16);
                CausalLm.Output b = model.prefill(ps, ids, null, false);
                NDArray bNext = model.prefill(ps, next, b.state(), false).logits();
                NDArray singleHalf = model.prefill(ps, ids.get("0:1"), null, false).logits();
                String name = describe(config);
                assertEquals(a.logits(), b.logits(), name + ": prefill logits");
                List<NDArray> sa = a.state().arrays();
                List<NDArray> sb = b.state().arrays();
                for (int i = 0; i < sa.size(); i++) {
                    assertEquals(sa.get(i), sb.get(i), name + ": prefill state array " + i);
                }
                assertEquals(aNext, bNext, name + ": a decode step of 2 rows");
                assertEquals(single, singleHalf, name + ": a one-row prefill of 20 tokens");
            }
        }
    }

    @Test
    void backToFloat32IsExactAndReleasesTheCopies() {
        TttConfig config = TestModels.tiny(LayerType.MLP);
        try (NDManager manager = NDManager.newBaseManager();
                NoGrad off = NoGrad.open(manager)) {
            CausalLm model = TestModels.model(config, manager, 5);
            ParameterStore ps = new ParameterStore(manager, false);
            NDArray ids = TestModels.ids(manager, 1, 17, 64, 8);
            LmState start = model.prefill(ps, ids.get(":, 0:16"), null, false).state();
            NDArray before = model.prefill(ps, ids.get(":, 16:17"), start, false).logits();
            long arrays = manager.getManagedArrays().size();
            model.setPrecision(Precision.FLOAT16);
            assertTrue(manager.getManagedArrays().size() > arrays, "float16 copies were made");
            model.setPrecision(Precision.FLOAT32);
            assertEquals(arrays, manager.getManagedArrays().size(), "copies left behind");
            assertEquals(Precision.FLOAT32, model.getPrecision());
            for (TttLayer layer : model.getTttLayers()) {
                assertEquals(Precision.FLOAT32, layer.getPrecision());
            }
            NDArray after = model.prefill(ps, ids.get(":, 16:17"), start, false).logits();
            assertEquals(before, after);
        }
    }

    @Test
    void aDecodeStepInFloat16LeavesNoArrayBehind() {
        try (NDManager manager = NDManager.newBaseManager();
                NoGrad off = NoGrad.open(manager)) {
            CausalLm model = TestModels.model(TestModels.tiny(LayerType.LINEAR), manager, 6);
            model.setPrecision(Precision.FLOAT16);
            ParameterStore ps = new ParameterStore(manager, false);
            NDArray ids = TestModels.ids(manager, 1, 3, 64, 9);
            LmState state = model.prefill(ps, ids.get(":, 0:1"), null, false).state();
            // the state grows inside a mini-batch (the pending gradient's factors): not counted
            long arrays = manager.getManagedArrays().size() - state.arrays().size();
            for (int t = 1; t < 3; t++) {
                try (NDManager step = manager.newSubManager()) {
                    NDArray token = ids.get(":, {}:{}", t, t + 1);
                    token.attach(step);
                    CausalLm.Output out = model.prefill(ps, token, state, false);
                    out.state().attach(manager);
                    state.close();
                    state = out.state();
                }
            }
            assertEquals(
                    arrays,
                    manager.getManagedArrays().size() - state.arrays().size(),
                    "arrays left behind");
        }
    }

    @Test
    void bfloat16IsRefusedEverywhereBeforeAnyArrayExists() {
        String djl = "GetScalarTypeFromDType";
        for (String name : new String[] {"bfloat16", "BF16", " BFloat16 "}) {
            IllegalArgumentException e =
                    assertThrows(IllegalArgumentException.class, () -> Precision.parse(name));
            assertTrue(e.getMessage().contains(djl), e.getMessage());
        }
        IllegalArgumentException unknown =
                assertThrows(IllegalArgumentException.class, () -> Precision.parse("int8"));
        assertEquals("dtype must be float32 or float16, got 'int8'", unknown.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Precision.parse(null));
        assertEquals(Precision.FLOAT16, Precision.parse("Float16"));
        assertEquals(Precision.FLOAT32, Precision.parse("fp32"));
        assertTrue(
                assertThrows(IllegalArgumentException.class, () -> Precision.of(DataType.BFLOAT16))
                        .getMessage()
                        .contains(djl));
        TttConfig config = TestModels.tiny(LayerType.LINEAR);
        try (NDManager manager = NDManager.newBaseManager()) {
            long arrays = manager.getManagedArrays().size();
            CausalLm model = new CausalLm(config);
            assertTrue(
                    assertThrows(
                                    IllegalArgumentException.class,
                                    () ->
                                            model.initialize(
                                                    manager, DataType.BFLOAT16, new Shape(1, 16)))
                            .getMessage()
                            .contains(djl));
            TttLayer layer = TttLayer.fromConfig(TestLayers.small(LayerType.LINEAR, false));
            assertTrue(
                    assertThrows(
                                    IllegalArgumentException.class,
                                    () ->
                                            layer.initialize(
                                                    manager,
                                                    DataType.BFLOAT16,
                                                    new Shape(1, 16, 32)))
                            .getMessage()
                            .contains(djl));
            try (StateDict dict = StateDict.of(manager.newSubManager(), Map.of(), "empty")) {
                assertTrue(
                        assertThrows(
                                        IllegalArgumentException.class,
                                        () ->
                                                OfficialWeights.loadModel(
                                                        config, dict, manager, DataType.BFLOAT16))
                                .getMessage()
                                .contains(djl));
                assertThrows(
                        IllegalArgumentException.class,
                        () -> OfficialWeights.loadModel(config, dict, manager, DataType.INT8));
            }
            CausalLm ready = TestModels.model(config, manager, 1);
            assertThrows(IllegalArgumentException.class, () -> ready.cast(DataType.BFLOAT16));
            assertEquals(DataType.FLOAT32, ready.getEmbedding().getArray().getDataType());
            assertTrue(manager.getManagedArrays().size() > arrays);
        }
    }

    @Test
    void setPrecisionNeedsWeights() {
        CausalLm model = new CausalLm(TestModels.tiny(LayerType.LINEAR));
        assertThrows(IllegalStateException.class, () -> model.setPrecision(Precision.FLOAT16));
    }

    /** Teacher-forced decode from {@code start} (left open) to the end of {@code ids}. */
    private static List<NDArray> decode(
            CausalLm model, ParameterStore ps, NDArray ids, LmState start, int from) {
        List<NDArray> logits = new ArrayList<>();
        LmState state = start;
        for (int t = from; t < ids.getShape().get(1); t++) {
            CausalLm.Output out = model.prefill(ps, ids.get(":, {}:{}", t, t + 1), state, false);
            logits.add(out.logits());
            state = out.state();
        }
        return logits;
    }

    private static String describe(TttConfig config) {
        return config.getLayerType() + (config.isShareQk() ? " mamba" : " transformer");
    }
}
