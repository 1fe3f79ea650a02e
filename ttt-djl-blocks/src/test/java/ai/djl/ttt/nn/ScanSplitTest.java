package ai.djl.ttt.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.ParameterStore;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.runtime.ScanThreads;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The inner loop split over rows on several threads (inference on CPU, see {@code ScanThreads})
 * computes exactly what the single-threaded loop computes, and leaves no array behind.
 */
class ScanSplitTest {

    private static final String SPLIT_MIN = "ai.djl.ttt.scan_split_min";

    /**
     * The intra-op threads inside the scan and a decode step (default 1, which leaves a decode
     * step's single-token loop one slice): three, so that decode steps split their rows too.
     */
    private static final String SCAN_THREADS = "ai.djl.ttt.scan_threads";

    private static final String PARALLEL = "ai.djl.ttt.scan_parallel";

    @AfterEach
    void restore() {
        System.clearProperty(SPLIT_MIN);
        System.clearProperty(PARALLEL);
        System.clearProperty(SCAN_THREADS);
    }

    @Test
    void splitLoopEqualsOneLoop() {
        for (TttConfig config : TestLayers.smallConfigs()) {
            try (NDManager manager = NDManager.newBaseManager()) {
                TttLayer layer = TestLayers.layer(config, manager, DataType.FLOAT64, 11);
                NDArray x = TestLayers.input(manager, 3, 45, 32, 5, DataType.FLOAT64);
                System.setProperty(PARALLEL, "false");
                NDArray[] single = run(layer, x);
                System.setProperty(PARALLEL, "true");
                System.setProperty(SPLIT_MIN, "0");
                System.setProperty(SCAN_THREADS, "3");
                // the split uses one slice per libtorch thread: three, whatever the machine has
                int threads = JniUtils.getNumThreads();
                long splitsBefore = ScanThreads.splitRuns();
                NDArray[] split;
                try {
                    JniUtils.setNumThreads(3);
                    split = run(layer, x);
                } finally {
                    JniUtils.setNumThreads(threads);
                }
                assertTrue(
                        ScanThreads.splitRuns() > splitsBefore,
                        config.getLayerType() + ": the loop was not split");
                for (int i = 0; i < single.length; i++) {
                    double err = TestLayers.relativeError(split[i], single[i]);
                    assertEquals(0, err, 1e-15, config.getLayerType() + " output " + i);
                }
            }
        }
    }

    @Test
    void splitLoopLeavesNoArrayBehind() {
        System.setProperty(SPLIT_MIN, "0");
        TttConfig config = TestLayers.small(ai.djl.ttt.config.LayerType.MLP, true);
        try (NDManager manager = NDManager.newBaseManager()) {
            TttLayer layer = TestLayers.layer(config, manager, DataType.FLOAT32, 3);
            try (NDManager sub = manager.newSubManager()) {
                NDArray x = TestLayers.input(sub, 2, 40, 32, 1, DataType.FLOAT32);
                int before = sub.getManagedArrays().size();
                int threads = JniUtils.getNumThreads();
                long splitsBefore = ScanThreads.splitRuns();
                NDArray y;
                try {
                    JniUtils.setNumThreads(2);
                    y = TestLayers.forward(layer, x, "DUAL");
                } finally {
                    JniUtils.setNumThreads(threads);
                }
                assertTrue(ScanThreads.splitRuns() > splitsBefore, "the loop was not split");
                int after = sub.getManagedArrays().size();
                assertEquals(before + 1, after, "only the output remains");
                assertTrue(y.isNaN().sum().getLong() == 0);
            }
        }
    }

    /** Forward, prefill 21 + decode 3 tokens, and the state's arrays. */
    private static NDArray[] run(TttLayer layer, NDArray x) {
        ParameterStore ps = new ParameterStore(x.getManager(), false);
        NDArray forward = layer.forward(ps, new NDList(x), false).head();
        SequenceLayer.Output<TttState> out = layer.prefill(ps, x.get(":, :21"), null, false);
        NDList pieces = new NDList(out.output());
        TttState state = out.state();
        for (int t = 21; t < 24; t++) {
            out = layer.step(ps, x.get(":, {}:{}", t, t + 1), state);
            pieces.add(out.output());
            state = out.state();
        }
        NDList result = new NDList(forward, NDArrays.concat(pieces, 1));
        result.addAll(state.toNDList(x.getManager()));
        return result.toArray(new NDArray[0]);
    }
}
