package ai.djl.ttt.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.io.OfficialWeights;
import ai.djl.ttt.nn.inner.InnerLossStats;
import ai.djl.ttt.runtime.NoGrad;
import org.junit.jupiter.api.Test;

/** The inner-loss statistics ({@link InnerLossStats}) measure what they claim. */
class InnerLossStatsTest {

    @Test
    void measuringChangesNoOutputAndReturnsOneResultPerForward() {
        for (TttConfig config : TestLayers.smallConfigs()) {
            try (NDManager manager = NDManager.newBaseManager()) {
                TttLayer layer = TestLayers.layer(config, manager, DataType.FLOAT64, 3);
                NDArray x = TestLayers.input(manager, 2, 50, 32, 9, DataType.FLOAT64);
                NDArray plain = TestLayers.forward(layer, x, "DUAL");
                InnerLossRecorder recorder = new InnerLossRecorder();
                NDArray measured = TestLayers.forward(layer, x, "DUAL", recorder);
                assertEquals(0, TestLayers.relativeError(measured, plain));
                assertEquals(1, recorder.stats().size(), "one layer, one forward");
                InnerLossStats stats = recorder.stats().get(0);
                // 50 tokens = 3 full mini-batches of 16 and a tail of 2, which is left out
                assertEquals(3, stats.size());
            }
        }
    }

    @Test
    void learningLowersTheLossAndFormsAgree() {
        for (TttConfig config : TestLayers.smallConfigs()) {
            try (NDManager manager = NDManager.newBaseManager()) {
                TttLayer layer = TestLayers.layer(config, manager, DataType.FLOAT64, 5);
                NDArray x = TestLayers.input(manager, 2, 64, 32, 11, DataType.FLOAT64);
                InnerLossStats dual = measure(layer, x, "DUAL");
                InnerLossStats primal = measure(layer, x, "PRIMAL");

                String what = config.getLayerType() + " shareQk=" + config.isShareQk();
                assertEquals(4, dual.size(), what);
                // each mini-batch is measured on its own tokens: without the shared-QK
                // convolution (which looks back across the cut) mini-batch i alone, as a sequence
                // of its own (RoPE positions restart at every mini-batch), has the same keys and
                // targets, and the initial weights are W0 in both passes
                if (!config.isShareQk()) {
                    for (int i = 0; i < dual.size(); i++) {
                        NDArray alone = x.get(":, {}:{}", 16 * i, 16 * (i + 1));
                        float expected = measure(layer, alone, "DUAL").initial()[0];
                        assertEquals(
                                expected,
                                dual.initial()[i],
                                1e-6 * expected,
                                what + " initial[" + i + "]: " + dual);
                    }
                }
                // one gradient step on a mini-batch lowers that mini-batch's loss
                for (int i = 0; i < dual.size(); i++) {
                    assertTrue(
                            dual.after()[i] < dual.before()[i],
                            what + " mini-batch " + i + ": " + dual);
                }
                assertArrayEquals(primal.initial(), dual.initial(), 1e-6f, what);
                assertArrayEquals(primal.before(), dual.before(), 1e-6f, what);
                assertArrayEquals(primal.after(), dual.after(), 1e-6f, what);
            }
        }
    }

    /**
     * On an input that repeats one mini-batch of tokens, every mini-batch has the same keys and
     * targets (positions restart at each mini-batch; the shared-QK convolution's window repeats
     * from the second on), so the three measurements are tied: {@code before[i]} (the weights after
     * mini-batch i − 1) equals {@code after[i − 1]}, and {@code initial} is the same everywhere.
     * Each side comes from a different mini-batch, so measuring with the wrong weights breaks an
     * equality.
     */
    @Test
    void onARepeatedMiniBatchTheMeasurementsAreTied() {
        for (TttConfig config : TestLayers.smallConfigs()) {
            try (NDManager manager = NDManager.newBaseManager()) {
                TttLayer layer = TestLayers.layer(config, manager, DataType.FLOAT64, 5);
                NDArray block = TestLayers.input(manager, 2, 16, 32, 17, DataType.FLOAT64);
                NDArray x = block.tile(new long[] {1, 4, 1});
                InnerLossStats stats = measure(layer, x, "DUAL");
                String what = config.getLayerType() + " shareQk=" + config.isShareQk();
                assertEquals(4, stats.size(), what);
                for (int i = 2; i < 4; i++) {
                    assertEquals(
                            stats.after()[i - 1],
                            stats.before()[i],
                            1e-6 * stats.after()[i - 1],
                            what + " before[" + i + "] vs after[" + (i - 1) + "]: " + stats);
                    assertEquals(
                            stats.initial()[1],
                            stats.initial()[i],
                            1e-6 * stats.initial()[1],
                            what + " initial[" + i + "]: " + stats);
                }
                // and learning shows: the repeated mini-batch is reconstructed better each time
                assertTrue(stats.before()[3] < stats.before()[2], what + ": " + stats);
                assertTrue(stats.before()[2] < stats.initial()[2], what + ": " + stats);
            }
        }
    }

    @Test
    void withoutInnerLearningAllThreeAgree() {
        for (TttConfig config : TestLayers.smallConfigs()) {
            try (NDManager manager = NDManager.newBaseManager()) {
                TttLayer layer = TestLayers.layer(config, manager, DataType.FLOAT64, 5);
                // σ(−1e4) = 0: an inner learning rate of zero, so the weights never move
                try (NoGrad off = NoGrad.open(manager)) {
                    OfficialWeights.parameterNames(layer)
                            .get("learnable_ttt_lr_bias")
                            .getArray()
                            .set(new NDIndex("..."), -1e4);
                    OfficialWeights.parameterNames(layer)
                            .get("learnable_ttt_lr_weight")
                            .getArray()
                            .set(new NDIndex("..."), 0);
                }
                NDArray x = TestLayers.input(manager, 1, 48, 32, 13, DataType.FLOAT64);
                InnerLossStats stats = measure(layer, x, "DUAL");
                assertArrayEquals(stats.initial(), stats.before(), 1e-7f);
                assertArrayEquals(stats.initial(), stats.after(), 1e-7f);
                assertTrue(stats.meanInitial() > 0);
            }
        }
    }

    /** The statistics of one forward in the given form. */
    private static InnerLossStats measure(TttLayer layer, NDArray x, String form) {
        InnerLossRecorder recorder = new InnerLossRecorder();
        TestLayers.forward(layer, x, form, recorder);
        assertEquals(1, recorder.stats().size());
        return recorder.stats().get(0);
    }
}
