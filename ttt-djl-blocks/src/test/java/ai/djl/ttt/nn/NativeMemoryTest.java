package ai.djl.ttt.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.ttt.config.TttConfig;
import org.junit.jupiter.api.Test;

/**
 * A forward leaves nothing behind but what it returns: no array in the parameters' manager, only
 * the output (and the state, when asked for) in the input's manager.
 */
class NativeMemoryTest {

    @Test
    void forwardKeepsOnlyWhatItReturns() {
        for (TttConfig config : TestLayers.smallConfigs()) {
            try (NDManager model = NDManager.newBaseManager();
                    NDManager data = NDManager.newBaseManager()) {
                TttLayer layer = TestLayers.layer(config, model, DataType.FLOAT32, 1);
                int modelArrays = model.getManagedArrays().size();
                NDArray x = TestLayers.input(data, 2, 37, 32, 2, DataType.FLOAT32);
                int dataArrays = data.getManagedArrays().size();
                ParameterStore ps = new ParameterStore(data, false);

                for (int i = 0; i < 3; i++) {
                    layer.forward(ps, new NDList(x), false).head().close();
                }
                assertEquals(dataArrays, data.getManagedArrays().size(), "inference forward");

                // longer than one chunk: the chunks, their outputs and states are all freed
                NDArray longX =
                        TestLayers.input(
                                data, 1, TttLayer.PREFILL_CHUNK + 21, 32, 3, DataType.FLOAT32);
                int withLong = data.getManagedArrays().size();
                layer.forward(ps, new NDList(longX), false).head().close();
                SequenceLayer.Output<TttState> longOut = layer.prefill(ps, longX, null, false);
                longOut.output().close();
                longOut.state().close();
                assertEquals(withLong, data.getManagedArrays().size(), "chunked inference");
                dataArrays = withLong; // longX stays the test's own

                SequenceLayer.Output<TttState> out = layer.prefill(ps, x, null, false);
                TttState state = out.state();
                for (int t = 0; t < 20; t++) {
                    SequenceLayer.Output<TttState> next =
                            layer.step(ps, x.get(":, {}:{}", t, t + 1), state);
                    next.output().close();
                    state.close();
                    state = next.state();
                }
                out.output().close();
                state.close();
                // the 20 token slices x.get(...) are the test's own arrays
                assertEquals(dataArrays + 20, data.getManagedArrays().size(), "prefill + decode");

                // the same through DJL's NDList protocol: [token, state...] -> [y, state...]
                NDArray prompt = x.get(":, 0:21");
                NDArray start = data.zeros(new Shape(2), DataType.INT64);
                NDList list = layer.forward(ps, new NDList(prompt, start), false);
                prompt.close();
                start.close();
                NDList stateList = list.subNDList(1);
                list.head().close();
                for (int t = 21; t < 36; t++) {
                    NDList in = new NDList(x.get(":, {}:{}", t, t + 1));
                    in.addAll(stateList);
                    NDList next = layer.forward(ps, in, false);
                    in.head().close();
                    stateList.close();
                    next.head().close();
                    stateList = next.subNDList(1);
                }
                stateList.close();
                assertEquals(dataArrays + 20, data.getManagedArrays().size(), "NDList decode");

                x.setRequiresGradient(true);
                for (int i = 0; i < 3; i++) {
                    try (GradientCollector gc = Engine.getInstance().newGradientCollector();
                            NDManager step = data.newSubManager()) {
                        NDArray y = layer.forward(ps, new NDList(x), true).head();
                        y.attach(step);
                        // DJL's backward(loss) leaves a ones-array in the loss's manager
                        gc.backward(y.sum());
                    }
                }
                assertEquals(modelArrays, model.getManagedArrays().size(), "parameters' manager");
                assertEquals(dataArrays + 20, data.getManagedArrays().size(), "training forward");
            }
        }
    }
}
