package ai.djl.ttt.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.ParameterStore;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.nn.inner.FastWeights;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * One forward over a sequence equals prefill + token-by-token decode, and equals chunked prefill
 * with chunks of any size at any offset (reference.md §3; the official code only allows 16-aligned
 * chunks).
 */
class PrefillDecodeTest {

    private static final int LENGTH = 40;

    @Test
    void prefillThenDecodeEqualsFullForward() {
        forEachSmallLayer(
                11,
                3,
                (config, manager, layer, x, full, ps) -> {
                    for (int prompt : new int[] {0, 1, 16, 21}) {
                        List<NDArray> pieces = new ArrayList<>();
                        TttState state = null;
                        if (prompt > 0) {
                            SequenceLayer.Output<TttState> out =
                                    layer.prefill(ps, x.get(":, 0:{}", prompt), null, false);
                            pieces.add(out.output());
                            state = out.state();
                        } else {
                            state = TttState.start(2);
                        }
                        for (int t = prompt; t < LENGTH; t++) {
                            SequenceLayer.Output<TttState> out =
                                    layer.step(ps, x.get(":, {}:{}", t, t + 1), state);
                            pieces.add(out.output());
                            state.close();
                            state = out.state();
                        }
                        assertArrayEquals(new long[] {LENGTH, LENGTH}, state.getPositions());
                        double err =
                                TestLayers.relativeError(
                                        NDArrays.concat(new NDList(pieces), 1), full);
                        assertTrue(
                                err <= 1e-5, describe(config) + " prompt " + prompt + ": " + err);
                    }
                });
    }

    /**
     * Decoded tokens keep their gradient terms as factors inside the state ({@code FastWeights});
     * such a state goes through DJL's {@code NDList} protocol (which forms the full pending sums)
     * and into a multi-token prefill, and the sequence continues exactly.
     */
    @Test
    void decodedTokensSurviveTheNdListProtocolAndAPrefill() {
        forEachSmallLayer(
                13,
                17,
                (config, manager, layer, x, full, ps) -> {
                    // 21 tokens (5 into a mini-batch), then 3 decoded: position 24, pending terms
                    TttState state = layer.prefill(ps, x.get(":, 0:21"), null, false).state();
                    for (int t = 21; t < 24; t++) {
                        state = layer.step(ps, x.get(":, {}:{}", t, t + 1), state).state();
                    }
                    TttState roundTrip = layer.stateFromNDList(state.toNDList(manager));
                    NDArray expected = full.get(":, 24:40");
                    for (TttState from : new TttState[] {state, roundTrip}) {
                        NDArray rest = layer.prefill(ps, x.get(":, 24:40"), from, false).output();
                        double err = TestLayers.relativeError(rest, expected);
                        assertTrue(err <= 1e-5, describe(config) + ": " + err);
                    }
                });
    }

    /** A check on one small layer, its input (B = 2, T = {@link #LENGTH}) and its full forward. */
    private interface LayerCheck {
        void run(
                TttConfig config,
                NDManager manager,
                TttLayer layer,
                NDArray x,
                NDArray full,
                ParameterStore ps);
    }

    /** Runs a check for every small config, with a fresh manager each. */
    private static void forEachSmallLayer(long layerSeed, long inputSeed, LayerCheck check) {
        for (TttConfig config : TestLayers.smallConfigs()) {
            try (NDManager manager = NDManager.newBaseManager()) {
                TttLayer layer = TestLayers.layer(config, manager, DataType.FLOAT32, layerSeed);
                NDArray x = TestLayers.input(manager, 2, LENGTH, 32, inputSeed, DataType.FLOAT32);
                NDArray full = TestLayers.forward(layer, x, "DUAL");
                check.run(config, manager, layer, x, full, new ParameterStore(manager, false));
            }
        }
    }

    /**
     * A state handed to a prefill of several mini-batches stays what it was: the scan updates
     * weights in place only once they are its own (inference only).
     */
    @Test
    void aStateStaysValidAfterALongPrefillFromIt() {
        for (TttConfig config : TestLayers.smallConfigs()) {
            try (NDManager manager = NDManager.newBaseManager()) {
                TttLayer layer = TestLayers.layer(config, manager, DataType.FLOAT32, 5);
                NDArray x = TestLayers.input(manager, 2, LENGTH, 32, 7, DataType.FLOAT32);
                ParameterStore ps = new ParameterStore(manager, false);
                TttState start = layer.prefill(ps, x.get(":, 0:16"), null, false).state();
                NDArray first = layer.prefill(ps, x.get(":, 16:40"), start, false).output();
                NDArray again = layer.prefill(ps, x.get(":, 16:40"), start, false).output();
                assertTrue(
                        first.contentEquals(again),
                        describe(config) + ": the second prefill from the same state differs");
                NDArray full = TestLayers.forward(layer, x, "DUAL").get(":, 16:40");
                double err = TestLayers.relativeError(first, full);
                assertTrue(err <= 1e-5, describe(config) + ": " + err);
            }
        }
    }

    /**
     * An inference pass longer than {@link TttLayer#PREFILL_CHUNK} runs in chunks with the state
     * carried; its output and final state equal those of one pass (a training pass never runs in
     * chunks), also when it starts inside a mini-batch.
     */
    @Test
    void longInferencePassesInChunksEqualOnePass() {
        int length = TttLayer.PREFILL_CHUNK + 2 * 16 + 5;
        for (TttConfig config : TestLayers.smallConfigs()) {
            try (NDManager manager = NDManager.newBaseManager()) {
                TttLayer layer = TestLayers.layer(config, manager, DataType.FLOAT32, 8);
                NDArray x = TestLayers.input(manager, 2, length, 32, 9, DataType.FLOAT32);
                ParameterStore ps = new ParameterStore(manager, false);
                NDArray onePass = layer.prefill(ps, x, null, true).output();
                double err =
                        TestLayers.relativeError(TestLayers.forward(layer, x, "DUAL"), onePass);
                assertTrue(err <= 1e-5, describe(config) + " from position 0: " + err);

                TttState start = layer.prefill(ps, x.get(":, 0:5"), null, false).state();
                NDArray rest = x.get(":, 5:");
                SequenceLayer.Output<TttState> expected = layer.prefill(ps, rest, start, true);
                SequenceLayer.Output<TttState> chunked = layer.prefill(ps, rest, start, false);
                err = TestLayers.relativeError(chunked.output(), expected.output());
                assertTrue(err <= 1e-5, describe(config) + " from position 5: " + err);
                assertArrayEquals(expected.state().getPositions(), chunked.state().getPositions());
                FastWeights want = expected.state().getWeights();
                FastWeights got = chunked.state().getWeights();
                assertEquals(want.hasPendingGradients(), got.hasPendingGradients());
                for (int l = 0; l < want.depth(); l++) {
                    err = TestLayers.relativeError(got.layer(l), want.layer(l));
                    assertTrue(err <= 1e-5, describe(config) + " layer " + l + ": " + err);
                    if (want.hasPendingGradients()) {
                        err =
                                TestLayers.relativeError(
                                        got.pendingGradient(l), want.pendingGradient(l));
                        assertTrue(err <= 1e-5, describe(config) + " pending " + l + ": " + err);
                    }
                }
            }
        }
    }

    @Test
    void chunksOfOddSizesEqualFullForward() {
        int[][] chunkings = {{5, 3, 11, 1, 7, 13}, {15, 2, 23}, {1, 1, 17, 4, 17}};
        for (TttConfig config : TestLayers.smallConfigs()) {
            try (NDManager manager = NDManager.newBaseManager()) {
                TttLayer layer = TestLayers.layer(config, manager, DataType.FLOAT32, 12);
                NDArray x = TestLayers.input(manager, 2, LENGTH, 32, 4, DataType.FLOAT32);
                NDArray full = TestLayers.forward(layer, x, "DUAL");
                for (int[] chunks : chunkings) {
                    NDList pieces = new NDList();
                    NDList state =
                            new NDList(
                                    manager.zeros(
                                            new ai.djl.ndarray.types.Shape(2), DataType.INT64));
                    int t = 0;
                    for (int size : chunks) {
                        // the DJL NDList protocol: [x, state...] -> [y, state...]
                        NDList in = new NDList(x.get(":, {}:{}", t, t + size));
                        in.addAll(state);
                        NDList out = layer.forward(new ParameterStore(manager, false), in, false);
                        pieces.add(out.head());
                        state = out.subNDList(1);
                        t += size;
                    }
                    double err = TestLayers.relativeError(NDArrays.concat(pieces, 1), full);
                    assertTrue(
                            err <= 1e-5,
                            describe(config)
                                    + " chunks "
                                    + java.util.Arrays.toString(chunks)
                                    + ": "
                                    + err);
                }
            }
        }
    }

    @Test
    void rowsAtDifferentPositionsDecodeAsIfAlone() {
        for (TttConfig config : TestLayers.smallConfigs()) {
            try (NDManager manager = NDManager.newBaseManager()) {
                TttLayer layer = TestLayers.layer(config, manager, DataType.FLOAT32, 13);
                ParameterStore ps = new ParameterStore(manager, false);
                int[] prompts = {5, 30};
                NDArray[] rows = new NDArray[2];
                TttState[] states = new TttState[2];
                for (int r = 0; r < 2; r++) {
                    rows[r] = TestLayers.input(manager, 1, 48, 32, 20 + r, DataType.FLOAT32);
                    states[r] =
                            layer.prefill(ps, rows[r].get(":, 0:{}", prompts[r]), null, false)
                                    .state();
                }
                // expected: each row decoded alone
                List<List<NDArray>> alone = new ArrayList<>();
                for (int r = 0; r < 2; r++) {
                    List<NDArray> outs = new ArrayList<>();
                    TttState s = states[r];
                    for (int i = 0; i < 12; i++) {
                        int t = prompts[r] + i;
                        SequenceLayer.Output<TttState> o =
                                layer.step(ps, rows[r].get(":, {}:{}", t, t + 1), s);
                        outs.add(o.output());
                        s = o.state();
                    }
                    alone.add(outs);
                }
                // batched: rows at positions 5 and 30 (offsets 5 and 14 in their mini-batches)
                TttState batch = TttState.concat(List.of(states[0], states[1]));
                for (int i = 0; i < 12; i++) {
                    NDArray token =
                            NDArrays.concat(
                                    new NDList(
                                            rows[0].get(
                                                    ":, {}:{}", prompts[0] + i, prompts[0] + i + 1),
                                            rows[1].get(
                                                    ":, {}:{}",
                                                    prompts[1] + i,
                                                    prompts[1] + i + 1)),
                                    0);
                    SequenceLayer.Output<TttState> o = layer.step(ps, token, batch);
                    batch = o.state();
                    for (int r = 0; r < 2; r++) {
                        double err =
                                TestLayers.relativeError(
                                        o.output().get("{}:{}", r, r + 1), alone.get(r).get(i));
                        assertTrue(
                                err <= 1e-5,
                                describe(config) + " row " + r + " step " + i + ": " + err);
                    }
                }
            }
        }
    }

    static String describe(TttConfig config) {
        return config.getLayerType() + (config.isShareQk() ? " (mamba)" : " (transformer)");
    }
}
